"""The LLM layer: one small backend interface, several backends, and the runner every LLM stage uses."""
