"""What other tools rely on, checked with our own code (LlamaFactory and mergekit are not installed
in CI: LlamaFactory alone pulls another torch).

- LlamaFactory trains from ``tasks/`` by rendering each whole ShareGPT conversation with the model's
  chat template; it reproduced our token ids row for row because the ids we train on are exactly
  that rendering (prompt with generation prompt + reply + end of turn), for the rows of every task.
- mergekit's ``linear`` merge, ``sum(w_i * t_i) / sum(w_i)`` over the stacked tensors in float32
  and cast to the output dtype, is bit-identical to our 1:1 merge in float32 and bfloat16.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from humanllm.executor import run_stages
from humanllm.train.config import TrainConfig
from humanllm.train.data import read_sharegpt, task_files
from humanllm.train.merge import merge_checkpoints
from humanllm.train.sft import build_trainer
from humanllm.train.shards import weight_files
from tests.tasks.genome import config, genome_run, tables
from tests.train.tiny import build_model


def _state(folder: Path) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for f in weight_files(folder):
        out.update(load_file(str(f)))
    return out


def test_trained_ids_are_the_whole_conversation_rendered(tiny_model: Path, tmp_path: Path) -> None:
    cfg = config(tasks={"test_fraction": 0.34, "total_train": 30, "total_test": 6})
    genome_run(tmp_path, cfg, tables(users_per_source=3, comments_per_user=2))
    run_stages(cfg, tmp_path, ["tasks"])
    files = task_files(tmp_path / "tasks", "train")
    assert len({f.parent.name for f in files}) == 6  # every task
    train = TrainConfig(
        base_model=str(tiny_model),
        total_batch_size=1,
        max_length=100_000,
        gradient_checkpointing=False,
    )
    trainer: Any = build_trainer(train, files, tmp_path / "out")
    tok = trainer.processing_class
    examples = [ex for f in files for ex in read_sharegpt(f)]
    assert trainer.train_dataset.num_rows == len(examples) == 30
    for i, ex in enumerate(examples):
        whole = tok.apply_chat_template(ex.prompt + ex.completion, tokenize=True, return_dict=True)[
            "input_ids"
        ]
        assert trainer.train_dataset[i]["input_ids"] == list(whole), i


def _mergekit_linear(tensors: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
    stacked = torch.stack([t.to(torch.float32) for t in tensors], dim=0)
    w = torch.tensor(weights, dtype=torch.float32)
    while w.dim() < stacked.dim():
        w = w.unsqueeze(-1)
    return ((w * stacked).sum(dim=0) / w.sum(dim=0)).to(tensors[0].dtype)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_one_to_one_merge_is_mergekit_linear_bit_for_bit(
    dtype: str, tiny_tokenizer: Path, tmp_path: Path
) -> None:
    a = build_model(tmp_path / "a", tiny_tokenizer, seed=0, dtype=dtype)
    b = build_model(tmp_path / "b", tiny_tokenizer, seed=1, dtype=dtype)
    merged = _state(merge_checkpoints([a, b], [1.0, 1.0], tmp_path / "m"))
    sa, sb = _state(a), _state(b)
    assert merged.keys() == sa.keys()
    for k, v in merged.items():
        assert v.dtype == sa[k].dtype
        assert torch.equal(v, _mergekit_linear([sa[k], sb[k]], [1.0, 1.0])), k
