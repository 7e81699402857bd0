"""The six tasks of the paper (§3.1), one module each; each module's ``TASK`` is its
:class:`~humanllm.tasks.task.Task` (builder, in-domain questions, application study, simulator
application). :data:`BUILTIN` is their order in the paper, which the registry keeps.
"""

from humanllm.tasks.defs import (
    item_selection,
    personalized_commenting,
    profile_generation,
    scenario_generation,
    social_qa,
    writing_imitation,
)
from humanllm.tasks.task import Task

BUILTIN: tuple[Task, ...] = (
    profile_generation.TASK,
    scenario_generation.TASK,
    social_qa.TASK,
    writing_imitation.TASK,
    personalized_commenting.TASK,
    item_selection.TASK,
)
