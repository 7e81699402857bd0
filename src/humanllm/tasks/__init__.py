"""The six training tasks (§3.1) built from the Cognitive Genome tables, as ShareGPT files.

- :mod:`humanllm.tasks.prompts`: the task prompts (also used by the evaluation and the simulator);
- :mod:`humanllm.tasks.builders`: genome tables -> rows, one function per task;
- :mod:`humanllm.tasks.sampling`: the user split and the balanced sampler;
- :mod:`humanllm.tasks.variants`: the ``raw`` and ``gen-mix`` ablation data;
- :mod:`humanllm.tasks.stage`: the ``tasks`` stage (files + LlamaFactory ``dataset_info.json``).
"""

from humanllm.tasks.config import TASK_GROUPS, TASKS, TasksConfig

__all__ = ["TASKS", "TASK_GROUPS", "TasksConfig"]
