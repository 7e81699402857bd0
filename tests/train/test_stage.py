"""The train and merge stages through the executor on the tiny model: tasks -> train -> merge,
with an interrupted training run resumed from its last checkpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

import humanllm.train.sft as sft
from humanllm.executor import STARTED, StageError, run_stages
from tests.tasks.genome import config, genome_run, tables

STAGES = ["tasks", "train", "merge"]


class _Interrupt(Exception):
    pass


class _StopAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step == self.step:
            raise _Interrupt(f"interrupted at step {state.global_step}")


def _cfg(base: Path, **train: Any) -> Any:
    params: dict[str, Any] = dict(
        base_model=str(base),
        total_batch_size=2,
        per_device_batch_size=2,
        max_length=768,
        gradient_checkpointing=False,
        learning_rate=1e-3,
        warmup_ratio=0.0,
        max_steps=4,
        save_steps=2,
        logging_steps=1,
    )
    params.update(train)
    return config(
        tasks={"test_fraction": 0.34, "total_train": 12, "total_test": 6},
        train=params,
        merge={"weights": [1, 1]},
    )


def _success(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "_SUCCESS.json").read_text(encoding="utf-8"))


@pytest.fixture
def keep_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_tasks_train_merge_resume_after_interruption(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_threads: None
) -> None:
    cfg = _cfg(tiny_model, cpu_threads=1)
    genome_run(tmp_path, cfg, tables(users_per_source=3))
    real_train = sft.train

    def interrupted(*args: Any, **kwargs: Any) -> Path:
        return real_train(*args, callbacks=[_StopAt(3)], **kwargs)

    monkeypatch.setattr(sft, "train", interrupted)
    with pytest.raises(_Interrupt):
        run_stages(cfg, tmp_path, STAGES)
    ckpt = tmp_path / "checkpoints"
    assert (ckpt / "checkpoint-2").is_dir() and (ckpt / STARTED).is_file()
    assert not (ckpt / "_SUCCESS.json").exists()

    monkeypatch.setattr(sft, "train", real_train)
    assert run_stages(cfg, tmp_path, STAGES) == {"tasks": "skipped", "train": "ran", "merge": "ran"}
    assert torch.get_num_threads() == 1  # train.cpu_threads
    done = _success(ckpt)
    assert done["resumed_from"] == "checkpoint-2" and done["global_step"] == 4
    assert not (ckpt / STARTED).exists()
    rows = sum(1 for f in (tmp_path / "tasks").glob("*/train.jsonl") for _ in f.open())
    assert sum(c["in"] for c in done["counts"].values()) == rows == 12

    merged = tmp_path / "merged"
    record = json.loads((merged / "merge.json").read_text(encoding="utf-8"))
    assert [Path(i["path"]) for i in record["inputs"]] == [
        (ckpt / "final").resolve(),
        tiny_model.resolve(),
    ]
    assert [i["normalised_weight"] for i in record["inputs"]] == [0.5, 0.5]
    tuned, base = (
        load_file(str(ckpt / "final" / "model.safetensors")),
        load_file(str(tiny_model / "model.safetensors")),
    )
    out = load_file(str(merged / "model.safetensors"))
    assert any(not torch.equal(tuned[k], base[k]) for k in base)
    for k in base:
        torch.testing.assert_close(out[k], (tuned[k] + base[k]) / 2)
    model = AutoModelForCausalLM.from_pretrained(str(merged))
    tok = AutoTokenizer.from_pretrained(str(merged))
    enc: Any = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    assert (
        model.generate(**enc, max_new_tokens=2, do_sample=False).shape[1]
        == enc["input_ids"].shape[1] + 2
    )

    # A finished stage is skipped; a changed merge config re-runs the merge only.
    assert run_stages(cfg, tmp_path, STAGES) == dict.fromkeys(STAGES, "skipped")
    cfg3 = cfg.model_copy(update={"merge": cfg.merge.model_copy(update={"weights": [1.0, 3.0]})})
    assert run_stages(cfg3, tmp_path, STAGES)["merge"] == "ran"
    record = json.loads((merged / "merge.json").read_text(encoding="utf-8"))
    assert [i["normalised_weight"] for i in record["inputs"]] == [0.25, 0.75]


def test_train_and_merge_errors_are_stage_errors(tiny_model: Path, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path / "no-such-model")
    genome_run(tmp_path, cfg, tables(users_per_source=3))
    run_stages(cfg, tmp_path, ["tasks"])
    with pytest.raises(StageError, match="no such checkpoint folder"):
        run_stages(cfg, tmp_path, ["train"])
    from humanllm.train.stage import run_merge

    ctx: Any = type("Ctx", (), {"cfg": cfg, "run": None})()
    ctx.run = type("Run", (), {"stage_dir": lambda self, name: tmp_path / name})()
    with pytest.raises(StageError, match="run the train stage first"):
        run_merge(ctx)
    (tmp_path / "checkpoints" / "final").mkdir(parents=True)
    cfg3 = cfg.model_copy(
        update={"merge": cfg.merge.model_copy(update={"weights": [1.0, 1.0, 1.0]})}
    )
    ctx.cfg = cfg3
    with pytest.raises(StageError, match="give two weights"):
        run_merge(ctx)
    ctx.cfg = _cfg(tiny_model)
    ctx.console = type("C", (), {"print": lambda *a, **k: None})()
    with pytest.raises(StageError, match="cannot read the model config"):
        run_merge(ctx)
