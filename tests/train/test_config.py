from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from humanllm.config import ConfigError
from humanllm.train.config import MergeConfig, TrainConfig
from humanllm.train.launch import load_train_config
from humanllm.train.sft import deepspeed_config_path


def test_defaults_are_the_papers() -> None:
    cfg = TrainConfig()
    assert cfg.learning_rate == 5e-6
    assert cfg.total_batch_size == 64
    assert cfg.max_length == 8192
    assert cfg.lr_scheduler == "cosine"
    assert cfg.warmup_ratio == 0.5
    assert cfg.epochs == 3
    assert cfg.bf16 and cfg.finetuning == "full"
    assert MergeConfig().weights == [1.0, 1.0]


def test_accumulation_is_computed_from_the_total_batch() -> None:
    cfg = TrainConfig(per_device_batch_size=2)
    assert cfg.gradient_accumulation(1) == 32
    assert cfg.gradient_accumulation(8) == 4
    with pytest.raises(ValueError, match="multiple of 6"):
        cfg.gradient_accumulation(3)
    with pytest.raises(ValidationError, match="not a multiple"):
        TrainConfig(total_batch_size=10, per_device_batch_size=4)


@pytest.mark.parametrize(
    "bad", [{"warmup_ratio": 1.0}, {"learning_rate": 0}, {"deepspeed": "zero4"}, {"lr": 1e-5}]
)
def test_invalid_train_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TrainConfig.model_validate(bad)


@pytest.mark.parametrize("weights", [[1.0], [1.0, -1.0], [0.0, 0.0], [float("nan"), 1.0]])
def test_invalid_merge_weights_are_refused(weights: list[float]) -> None:
    with pytest.raises(ValidationError):
        MergeConfig(weights=weights)


@pytest.mark.parametrize("name", ["zero2", "zero3"])
def test_shipped_deepspeed_configs(name: str) -> None:
    path = deepspeed_config_path(name)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["zero_optimization"]["stage"] == int(name[-1])
    # batch sizes follow the trainer (total batch 64 = micro batch × accumulation × GPUs)
    assert data["train_micro_batch_size_per_gpu"] == data["gradient_accumulation_steps"] == "auto"
    assert TrainConfig(deepspeed=name).deepspeed == name


def test_launch_reads_a_train_section_or_bare_fields(tmp_path: Path) -> None:
    run = tmp_path / "run.yaml"
    run.write_text("sources: []\ntrain:\n  max_steps: 3\n  packing: true\n", encoding="utf-8")
    cfg = load_train_config(run, ["learning_rate=1e-4"])
    assert (cfg.max_steps, cfg.packing, cfg.learning_rate) == (3, True, 1e-4)
    bare = tmp_path / "train.yaml"
    bare.write_text("total_batch_size: 8\n", encoding="utf-8")
    assert load_train_config(bare).total_batch_size == 8
    bare.write_text("total_batch: 8\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="total_batch"):
        load_train_config(bare)
