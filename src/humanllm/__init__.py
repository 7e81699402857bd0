"""HumanLLM: user logs -> Cognitive Genome dataset -> trained, merged, evaluated user simulators."""

__version__ = "0.1.0"
