"""The six tasks of the paper (§3.1), one module each; each module's ``build`` declares (with
:func:`~humanllm.tasks.task.task`) its :class:`~humanllm.tasks.task.Task` (builder, in-domain
questions, application study, simulator application). :data:`BUILTIN` is their order in the
paper, which the registry keeps.
"""

from humanllm.tasks.defs import (
    item_selection,
    personalized_commenting,
    profile_generation,
    scenario_generation,
    social_qa,
    writing_imitation,
)
from humanllm.tasks.task import Task, declared

BUILTIN: tuple[Task, ...] = tuple(
    declared(m.build)
    for m in (
        profile_generation,
        scenario_generation,
        social_qa,
        writing_imitation,
        personalized_commenting,
        item_selection,
    )
)
