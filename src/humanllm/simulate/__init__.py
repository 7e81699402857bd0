"""The simulator: the six applications of a trained HumanLLM as a Python API
(:class:`Simulator`), a CLI (``humanllm simulate``), an HTTP service and a web page
(``humanllm serve``)."""

from humanllm.simulate.apps import SelectionError, SimulationError, simulate
from humanllm.simulate.schemas import (
    APPLICATIONS,
    CommentInput,
    ExplainInput,
    ProfileInput,
    Result,
    ScenarioInput,
    SelectInput,
    SelectResult,
    WriteInput,
)
from humanllm.simulate.simulator import Simulator

__all__ = [
    "APPLICATIONS",
    "CommentInput",
    "ExplainInput",
    "ProfileInput",
    "Result",
    "ScenarioInput",
    "SelectInput",
    "SelectResult",
    "SelectionError",
    "SimulationError",
    "Simulator",
    "WriteInput",
    "simulate",
]
