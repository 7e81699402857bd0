"""Stages ``train`` and ``merge``: fine-tune on ``tasks/*/train.jsonl`` into ``checkpoints/``, then
average the result with its base model into ``merged/`` (the paper's 1:1 merge, §3.2).

``train`` keeps its folder when it is re-run after an interruption with the same fingerprint
(``Stage.keep_partial``): :func:`humanllm.train.sft.train` then resumes from the newest
``checkpoints/checkpoint-N``. The test split is used for evaluation during training only when
``train.eval_steps`` is set. With ``train.launch.launcher: accelerate`` (``humanllm train
--launcher accelerate --num-processes N``) the stage runs :mod:`humanllm.train.launch` under
``accelerate launch`` and waits for it; the markers are written as for an in-process run.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from humanllm.runfolder import SourceCounts
from humanllm.stage import StageContext, StageError, StageResult

TASKS_DIR = "tasks"
CHECKPOINTS = "checkpoints"
MERGED = "merged"


def _rows_per_source(files: list[Path]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for f in files:
        with f.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    counts[str(json.loads(line).get("source") or "unknown")] += 1
    return counts


def run_train(ctx: StageContext) -> StageResult:
    from humanllm.train.data import SFTDataError, task_files
    from humanllm.train.launch import run_training
    from humanllm.train.sft import TrainError

    cfg = ctx.cfg.train
    tasks = ctx.run.stage_dir(TASKS_DIR)
    out = ctx.run.stage_dir(CHECKPOINTS)
    try:
        train_files = task_files(tasks, "train")
        eval_files = task_files(tasks, "test") if cfg.eval_steps else None
        ctx.console.print(
            f"  base model {cfg.base_model}; {len(train_files)} training file(s): "
            + ", ".join(f.parent.name for f in train_files),
            highlight=False,
        )
        final = run_training(cfg, tasks, out, tasks if eval_files else None)
        rows = _rows_per_source(train_files)
    except (TrainError, SFTDataError) as e:
        raise StageError(str(e)) from e
    summary = json.loads((final / "humanllm-train.json").read_text(encoding="utf-8"))
    result = StageResult(
        counts={s: SourceCounts(records_in=n, records_out=n) for s, n in sorted(rows.items())}
    )
    result.extra.update(
        {
            "final": str(final),
            "base_model": summary.get("base_model_path"),
            "global_step": summary.get("global_step"),
            "resumed_from": summary.get("resumed_from"),
            "train_wall_s": summary.get("wall_s"),
            "metrics": summary.get("metrics"),
            "sources": {s: {"records": n} for s, n in sorted(rows.items())},
        }
    )
    return result


def run_merge(ctx: StageContext) -> StageResult:
    from humanllm.train.merge import MERGE_RECORD, MergeError, merge_checkpoints
    from humanllm.train.sft import FINAL, TrainError, resolve_base_model

    mcfg = ctx.cfg.merge
    fine_tuned = ctx.run.stage_dir(CHECKPOINTS) / FINAL
    if not fine_tuned.is_dir():
        raise StageError(f"{fine_tuned}: no fine-tuned checkpoint; run the train stage first")
    if len(mcfg.weights) != 2:
        raise StageError(
            f"merge.weights has {len(mcfg.weights)} values; the merge stage averages two checkpoints "
            "(fine-tuned, base): give two weights, e.g. [1, 1]"
        )
    try:
        base = Path(resolve_base_model(ctx.cfg.train.base_model))
    except TrainError as e:
        raise StageError(str(e)) from e
    if not base.is_dir():  # a Hub id: the files training downloaded (or download them)
        from huggingface_hub import snapshot_download

        try:
            base = Path(snapshot_download(str(base)))
        except Exception as e:  # network, auth, unknown repo: all mean "no base on disk"
            raise StageError(
                f"train.base_model {ctx.cfg.train.base_model!r}: cannot get the base checkpoint "
                f"for merging ({e}); download it and give its folder"
            ) from e
    out = ctx.run.stage_dir(MERGED)
    ctx.console.print(
        f"  {fine_tuned} × {mcfg.weights[0]:g} + {base} × {mcfg.weights[1]:g}", highlight=False
    )
    try:
        merge_checkpoints(
            [fine_tuned, base], mcfg.weights, out, max_shard_bytes=mcfg.max_shard_bytes
        )
    except MergeError as e:
        raise StageError(str(e)) from e
    record = json.loads((out / MERGE_RECORD).read_text(encoding="utf-8"))
    result = StageResult()
    result.extra.update(
        {
            "inputs": record["inputs"],
            "parameters": record["parameters"],
            "merge_wall_s": record["wall_s"],
        }
    )
    return result
