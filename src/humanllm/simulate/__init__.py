"""The simulator: the applications of a trained HumanLLM (one per task) as a Python API
(:class:`Simulator`), a CLI (``humanllm simulate``), an HTTP service and a web page
(``humanllm serve``)."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from humanllm.simulate.apps import SelectionError, SimulationError, simulate
    from humanllm.simulate.schemas import Result, SelectResult
    from humanllm.simulate.simulator import Simulator
    from humanllm.tasks.defs.item_selection import SelectInput
    from humanllm.tasks.defs.personalized_commenting import CommentInput
    from humanllm.tasks.defs.profile_generation import ProfileInput
    from humanllm.tasks.defs.scenario_generation import ScenarioInput
    from humanllm.tasks.defs.social_qa import ExplainInput
    from humanllm.tasks.defs.writing_imitation import WriteInput

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
_FROM = {
    "SelectionError": "apps",
    "SimulationError": "apps",
    "simulate": "apps",
    "Result": "schemas",
    "SelectResult": "schemas",
    "Simulator": "simulator",
}


def __getattr__(name: str) -> Any:
    """The API's names, imported on first use: the input models live with their tasks, which
    import this package's modules, so nothing here is imported eagerly."""
    import importlib

    if name in _FROM:
        return getattr(importlib.import_module(f"humanllm.simulate.{_FROM[name]}"), name)
    if name in __all__:  # APPLICATIONS and the input models, from the task registry
        return getattr(importlib.import_module("humanllm.simulate.schemas"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
