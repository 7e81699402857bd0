"""The learning-rate warm-up is ``warmup_ratio`` of all optimizer steps (the paper: 0.5), whatever
the installed transformers does with a float ``warmup_steps``: the LR the optimizer uses at each
step of a real training run on the tiny model, read from the trainer's own scheduler."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from transformers import TrainerCallback, TrainingArguments

from humanllm.train.config import TrainConfig
from humanllm.train.sft import build_trainer, warmup_steps
from tests.train.tiny import sharegpt_row, write_jsonl

PEAK = 1e-3


class _LearningRates(TrainerCallback):
    """The learning rate in effect at each optimizer step (read before the step runs)."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.rates.append(float(kw["lr_scheduler"].get_last_lr()[0]))


def _rule_before_v5(self: TrainingArguments, num_training_steps: int) -> int:
    """How transformers 4.46-4.57 count warm-up steps: ``warmup_steps`` as given when > 0 (so 0.5
    means half a step), else ``warmup_ratio`` of the steps."""
    ratio = getattr(self, "warmup_ratio", 0.0) or 0.0
    steps: Any = self.warmup_steps
    return steps if steps > 0 else math.ceil(num_training_steps * ratio)


def _rates(model: Path, tmp_path: Path, **train: Any) -> list[float]:
    data = write_jsonl(tmp_path / "t" / "train.jsonl", [sharegpt_row(i) for i in range(8)])
    cfg = TrainConfig(
        base_model=str(model),
        total_batch_size=2,
        per_device_batch_size=2,
        max_length=128,
        gradient_checkpointing=False,
        learning_rate=PEAK,
        lr_scheduler="cosine",
        save_steps=1000,
        logging_steps=1000,
        cpu_threads=1,
        **train,
    )
    seen = _LearningRates()
    trainer = build_trainer(cfg, [data], tmp_path / "out", callbacks=[seen])
    trainer.train()
    return seen.rates


@pytest.mark.parametrize("rule", ["installed", "transformers<5"])
def test_half_the_steps_warm_up_linearly(
    rule: str, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if rule != "installed":
        monkeypatch.setattr(TrainingArguments, "get_warmup_steps", _rule_before_v5)
    rates = _rates(tiny_model, tmp_path, max_steps=8, warmup_ratio=0.5)
    assert len(rates) == 8
    warm = warmup_steps(0.5, 8)
    assert warm == 4
    assert rates[0] == 0.0  # step 0
    assert rates[2] == pytest.approx(PEAK * 2 / warm)  # mid-warm-up: half the peak
    assert rates[warm] == pytest.approx(PEAK)  # the peak, at the end of the warm-up
    assert rates[:warm] == pytest.approx([PEAK * k / warm for k in range(warm)])  # linear
    assert all(a > b for a, b in zip(rates[warm:], rates[warm + 1 :], strict=False))  # cosine


def test_warm_up_counts_the_steps_of_the_epochs(tiny_model: Path, tmp_path: Path) -> None:
    """No max_steps: 8 rows, batch 2, 1 epoch = 4 steps, of which 2 warm up."""
    rates = _rates(tiny_model, tmp_path, epochs=1.0, warmup_ratio=0.5)
    assert len(rates) == 4
    assert rates[0] == 0.0 and rates[1] == pytest.approx(PEAK / 2)
    assert rates[2] == pytest.approx(PEAK)


def test_warmup_steps_round_up() -> None:
    assert [warmup_steps(0.5, n) for n in (1, 2, 7, 8)] == [1, 1, 4, 4]
    assert warmup_steps(0.0, 100) == 0
