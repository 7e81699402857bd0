"""Evaluation (§4): in-domain multiple choice built from the test split, ToMBench and MotiveBench
with their official protocols, the application studies scored by an LLM judge, and a report with
the paper's tables and figures. The stage is :func:`humanllm.evaluation.stage.run_evaluate`."""
