"""The six training tasks (§3.1) built from the Cognitive Genome tables, as ShareGPT files.

- :mod:`humanllm.tasks.prompts`: the task prompts (also used by the evaluation and the simulator);
- :mod:`humanllm.tasks.builders`: genome tables -> rows, one function per task;
- :mod:`humanllm.tasks.sampling`: the hash user split, the stable hash and the quotas;
- :mod:`humanllm.tasks.buckets`: the genome cut into user buckets, the stage's units of work;
- :mod:`humanllm.tasks.select`: one bucket's candidates and the exact hash selection;
- :mod:`humanllm.tasks.parts`: per-bucket part files merged into the task files;
- :mod:`humanllm.tasks.build`: the passes over the buckets, resumable bucket by bucket;
- :mod:`humanllm.tasks.variants`: the ``raw`` and ``gen-mix`` ablation data;
- :mod:`humanllm.tasks.stage`: the ``tasks`` stage (files + LlamaFactory ``dataset_info.json``).
"""

from humanllm.tasks.config import TASK_GROUPS, TASKS, TasksConfig

__all__ = ["TASKS", "TASK_GROUPS", "TasksConfig"]
