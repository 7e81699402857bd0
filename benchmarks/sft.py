"""Benchmark of SFT throughput on the CPU with the embedded model (issue 5; informative).

Fine-tunes SmolLM2-135M-Instruct (the embedded model as an HF checkpoint) for a few optimizer
steps on synthetic ShareGPT rows of varied length, once with padded batches and once with
sequence packing (best-fit decreasing, padding-free), through the same trainer ``train()`` builds.
Reported: training tokens per second (tokens of the rows, padding excluded), timed from the end of
the first (warm-up) step to the end of the last; no checkpoint is written.

    python benchmarks/sft.py            # 6 steps per mode, max length 1024
    python benchmarks/sft.py --quick    # 3 steps per mode, max length 256 (~1 minute)
    python benchmarks/sft.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from transformers import TrainerCallback

from humanllm.llm.embedded import embedded_hf_checkpoint
from humanllm.train.config import TrainConfig
from humanllm.train.sft import build_trainer

WORDS = [
    "I",
    "my",
    "the",
    "a",
    "to",
    "and",
    "of",
    "in",
    "we",
    "it",
    "is",
    "was",
    "for",
    "on",
    "with",
    "at",
    "this",
    "that",
    "you",
    "they",
    "so",
    "but",
    "not",
    "coffee",
    "garden",
    "review",
    "blender",
    "hiking",
    "sister",
    "work",
    "weekend",
    "train",
    "book",
    "music",
    "dog",
    "city",
    "happy",
    "tired",
    "honest",
    "loud",
    "cheap",
    "great",
    "again",
    "never",
    "always",
    "really",
    "maybe",
    "because",
]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def rows(count: int, quick: bool, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    hi = 120 if quick else 400
    out = []
    for i in range(count):
        prompt = sentence(rng, rng.randint(20, hi))
        reply = sentence(rng, rng.randint(10, hi // 2))
        out.append(
            {
                "system": "You simulate one user. Answer as they would.",
                "conversations": [
                    {"from": "human", "value": prompt},
                    {"from": "gpt", "value": reply},
                ],
                "user_id": f"u{i}",
                "source": "synthetic",
                "task": "writing_imitation",
            }
        )
    return out


class StepClock(TrainerCallback):
    """Time and tokens at the end of every step; also keeps the trainer from saving."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, int]] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
        self.marks.append((time.perf_counter(), state.num_input_tokens_seen))
        control.should_save = False
        return control


def measure(
    base: str, data: Path, out: Path, *, packing: bool, steps: int, max_length: int
) -> dict[str, Any]:
    cfg = TrainConfig(
        base_model=base,
        total_batch_size=2,
        per_device_batch_size=2,
        max_length=max_length,
        max_steps=steps,
        packing=packing,
        gradient_checkpointing=False,
        logging_steps=steps,
        save_steps=10**6,
    )
    clock = StepClock()
    trainer = build_trainer(cfg, [data], out, callbacks=[clock])
    trainer.train()
    (t0, n0), (t1, n1) = clock.marks[0], clock.marks[-1]
    return {
        "packing": packing,
        "steps_timed": len(clock.marks) - 1,
        "tokens": n1 - n0,
        "seconds": round(t1 - t0, 3),
        "tokens_per_s": round((n1 - n0) / (t1 - t0), 1),
        "sequences_per_step": 2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 steps per mode, max length 256")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps, max_length = (3, 256) if args.quick else (6, 1024)
    base = str(embedded_hf_checkpoint())
    root = Path(tempfile.mkdtemp(prefix="humanllm-sft-bench-"))
    try:
        data = root / "train.jsonl"
        data.write_text(
            "".join(json.dumps(r) + "\n" for r in rows(64, args.quick)), encoding="utf-8"
        )
        results = [
            measure(base, data, root / f"run-{p}", packing=p, steps=steps, max_length=max_length)
            for p in (False, True)
        ]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = {
        "model": "SmolLM2-135M-Instruct (embedded, float32)",
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "load_average_1min": round(
            os.getloadavg()[0], 2
        ),  # other work on the machine skews CPU figures
        "max_length": max_length,
        "padded": results[0],
        "packed": results[1],
        "packing_speedup": round(results[1]["tokens_per_s"] / results[0]["tokens_per_s"], 3),
    }
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    table = Table(
        title=f"SFT on CPU: {report['model']}, {report['threads']} threads, max length {max_length}"
    )
    for col in ("batches", "steps timed", "tokens", "seconds", "tokens/s"):
        table.add_column(col, justify="right")
    for r in results:
        name = "packed (bfd, padding-free)" if r["packing"] else "padded"
        table.add_row(
            name,
            str(r["steps_timed"]),
            f"{r['tokens']:,}",
            f"{r['seconds']:.1f}",
            f"{r['tokens_per_s']:,.0f}",
        )
    Console().print(table)
    Console().print(
        f"packing speed-up: {report['packing_speedup']:.2f}x tokens/s "
        f"(load average {report['load_average_1min']} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
