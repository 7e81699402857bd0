from pathlib import Path

import pytest
from pydantic import ValidationError

from humanllm.config import load_config
from humanllm.tasks.config import TASK_GROUPS, TASKS, TasksConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_variants_pick_their_training_tasks() -> None:
    assert TasksConfig().train_tasks() == TASKS
    assert TasksConfig(variant="t1").train_tasks() == TASK_GROUPS["t1"] == TASKS[:3]
    assert TasksConfig(variant="t2").train_tasks() == TASK_GROUPS["t2"] == TASKS[3:]
    assert TasksConfig(variant="raw").train_tasks() == ("text_completion",)
    assert TasksConfig(variant="gen-mix", general_data=["a.jsonl"]).train_tasks() == TASKS


def test_bad_values_are_refused() -> None:
    for bad in (
        {"variant": "t3"},
        {"n_candidates": 27},
        {"test_fraction": 1.0},
        {"total_train": 0},
    ):
        with pytest.raises(ValidationError):
            TasksConfig.model_validate(bad)


def test_presets_carry_tasks_train_and_merge() -> None:
    paper = load_config(CONFIGS / "paper.yaml")
    assert (paper.tasks.total_train, paper.tasks.total_test) == (1_195_717, 132_869)
    assert paper.tasks.n_candidates == 20 and paper.tasks.variant == "full"
    t = paper.train
    assert (t.learning_rate, t.total_batch_size, t.max_length, t.epochs) == (5e-6, 64, 8192, 3)
    assert (t.lr_scheduler, t.warmup_ratio, t.finetuning) == ("cosine", 0.5, "full")
    assert paper.merge.weights == [1, 1]
    quick = load_config(CONFIGS / "quickstart.yaml")
    assert quick.train.base_model == "embedded" and quick.train.max_steps is not None
    assert quick.train.max_steps <= 10 and quick.train.max_length <= 2048
    assert quick.merge.weights == [1, 1]
