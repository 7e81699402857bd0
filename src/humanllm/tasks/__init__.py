"""The six training tasks (§3.1) built from the Cognitive Genome tables, as ShareGPT files.

- :mod:`humanllm.tasks.task`: what a task is (builder, in-domain questions, application study,
  simulator application); :mod:`humanllm.tasks.registry`: the tasks by name;
- :mod:`humanllm.tasks.defs`: the six tasks of the paper, one module each;
- :mod:`humanllm.tasks.prompts`: the task prompts (also used by the evaluation and the simulator);
- :mod:`humanllm.tasks.builders`: the builders by task name;
- :mod:`humanllm.tasks.sampling`: the hash user split, the stable hash and the quotas;
- :mod:`humanllm.tasks.buckets`: the genome cut into user buckets, the stage's units of work;
- :mod:`humanllm.tasks.select`: one bucket's candidates and the exact hash selection;
- :mod:`humanllm.tasks.parts`: per-bucket part files merged into the task files;
- :mod:`humanllm.tasks.build`: the passes over the buckets, resumable bucket by bucket;
- :mod:`humanllm.tasks.variants`: the ``raw`` and ``gen-mix`` ablation data;
- :mod:`humanllm.tasks.stage`: the ``tasks`` stage (files + LlamaFactory ``dataset_info.json``).
"""

from typing import Any

from humanllm.tasks.config import TasksConfig

__all__ = ["TASKS", "TASK_GROUPS", "TasksConfig"]


def __getattr__(name: str) -> Any:
    if name in ("TASKS", "TASK_GROUPS"):  # from the task registry, on first use
        from humanllm.tasks import config

        return getattr(config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
