from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from humanllm.train.config import TrainConfig
from humanllm.train.data import read_sharegpt
from humanllm.train.sft import RUN_RECORD, TrainError, build_trainer, last_checkpoint, train
from tests.train.tiny import sharegpt_row, write_jsonl

IGNORE = -100


def _cfg(base: Path | str, **kw: Any) -> TrainConfig:
    params: dict[str, Any] = dict(
        base_model=str(base),
        total_batch_size=2,
        per_device_batch_size=2,
        max_length=512,
        gradient_checkpointing=False,
        logging_steps=1,
        learning_rate=1e-3,
        warmup_ratio=0.0,
    )
    params.update(kw)
    return TrainConfig(**params)


def _rows() -> list[dict[str, Any]]:
    return [
        sharegpt_row(0),
        sharegpt_row(1, system=None, turns=2),
        sharegpt_row(2),
        sharegpt_row(3, system=None),
    ]


def _prompt_ids(tok: Any, messages: list[dict[str, str]]) -> list[int]:
    ids = tok.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    return list(ids)


@pytest.mark.parametrize("which", ["tiny", "embedded"])
def test_prompt_tokens_carry_no_loss(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    base = request.getfixturevalue("tiny_model" if which == "tiny" else "embedded_checkpoint")
    data = write_jsonl(tmp_path / "task" / "train.jsonl", _rows())
    trainer: Any = build_trainer(_cfg(base), [data], tmp_path / "out")
    tok = trainer.processing_class
    examples = list(read_sharegpt(data))
    eos_turn = tok.decode(tok("<|im_end|>\n")["input_ids"])
    for i, ex in enumerate(examples):
        row = trainer.train_dataset[i]
        prompt = _prompt_ids(tok, ex.prompt)
        n = len(prompt)
        assert n > 0 and len(row["input_ids"]) > n
        assert row["input_ids"][:n] == prompt
        assert (
            row["labels"][:n] == [IGNORE] * n
        )  # the whole prompt, system and earlier turns included
        assert row["labels"][n:] == row["input_ids"][n:]  # every completion token is learned
        assert tok.decode(row["input_ids"][n:]) == ex.completion[0]["content"] + eos_turn

    # Through the collator (padding) and the model: the loss is the completion tokens' loss only.
    rows = [trainer.train_dataset[i] for i in range(len(examples))]
    batch = trainer.data_collator(rows)
    for r, (labels, ids, mask) in enumerate(
        zip(batch["labels"], batch["input_ids"], batch["attention_mask"], strict=True)
    ):
        n = len(_prompt_ids(tok, examples[r].prompt))
        learned = labels != IGNORE
        assert not learned[:n].any() and not learned[mask == 0].any()
        assert (
            torch.equal(labels[learned], ids[learned]) and int(learned.sum()) == int(mask.sum()) - n
        )
    if which == "tiny":
        model = trainer.model
        with torch.no_grad():
            loss = model(**batch).loss
            logits = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits
        shift_logits, shift_labels = (
            logits[:, :-1].reshape(-1, logits.size(-1)),
            batch["labels"][:, 1:].reshape(-1),
        )
        keep = shift_labels != IGNORE
        manual = torch.nn.functional.cross_entropy(shift_logits[keep], shift_labels[keep])
        torch.testing.assert_close(loss, manual)


def test_packing_keeps_the_mask_and_rows_apart(tiny_model: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", _rows() * 3)
    plain: Any = build_trainer(_cfg(tiny_model), [data], tmp_path / "plain")
    packed: Any = build_trainer(
        _cfg(tiny_model, packing=True, max_length=200), [data], tmp_path / "packed"
    )
    learned = sum(int(label != IGNORE) for r in plain.train_dataset for label in r["labels"])
    assert len(packed.train_dataset) < len(plain.train_dataset)  # rows were packed together
    assert (
        sum(int(label != IGNORE) for r in packed.train_dataset for label in r["labels"]) == learned
    )

    row = next(r for r in packed.train_dataset if len(r["seq_lengths"]) > 1)
    batch = packed.data_collator([row])
    starts = batch["position_ids"][0] == 0
    assert (
        int(starts.sum()) == len(row["seq_lengths"])
        and (batch["labels"][0][starts] == IGNORE).all()
    )
    # Attention stays within each packed row: logits equal those of the rows run one by one.
    model = packed.model.eval()
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        offset = 0
        for length in row["seq_lengths"]:
            alone = model(
                input_ids=torch.tensor([row["input_ids"][offset : offset + length]])
            ).logits[0]
            torch.testing.assert_close(
                logits[offset : offset + length], alone, rtol=1e-4, atol=1e-4
            )
            offset += length


class _Interrupt(Exception):
    pass


class _StopAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step == self.step:
            raise _Interrupt(f"interrupted at step {state.global_step}")


class _Steps(TrainerCallback):
    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.steps.append(state.global_step)


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def test_train_writes_final_and_resumes_after_interruption(
    tiny_model: Path, tmp_path: Path
) -> None:
    data = write_jsonl(
        tmp_path / "tasks" / "t" / "train.jsonl", [sharegpt_row(i) for i in range(8)]
    )
    # per-device 1, total 2: two micro-batches accumulated per optimizer step
    cfg = _cfg(tiny_model, per_device_batch_size=1, max_steps=4, save_steps=2)

    out = tmp_path / "run"
    with pytest.raises(_Interrupt):
        train(cfg, [data], out, callbacks=[_StopAt(3)])
    assert last_checkpoint(out) == out / "checkpoint-2" and not (out / "final").exists()

    steps = _Steps()
    final = train(cfg, [data], out, callbacks=[steps])
    assert steps.steps == [3, 4]  # continued from checkpoint-2, did not start over
    summary = json.loads((final / "humanllm-train.json").read_text(encoding="utf-8"))
    assert summary["resumed_from"] == "checkpoint-2" and summary["global_step"] == 4
    assert summary["gradient_accumulation_steps"] == 2
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text(encoding="utf-8"))
    assert [e["step"] for e in state["log_history"] if "loss" in e] == [1, 2, 3, 4]

    # An uninterrupted run (with evaluation) ends with the same weights.
    test = write_jsonl(
        tmp_path / "tasks" / "t" / "test.jsonl", [sharegpt_row(i) for i in range(20, 22)]
    )
    reference = train(cfg, [data], tmp_path / "reference", eval_files=[test])
    resumed, ref, base = _weights(final), _weights(reference), _weights(tiny_model)
    assert resumed.keys() == base.keys()
    for name in base:
        torch.testing.assert_close(resumed[name], ref[name], rtol=0, atol=1e-6)
    assert any(not torch.equal(resumed[n], base[n]) for n in base)  # it did learn

    again = _Steps()  # a finished run called again: no step, same final/
    assert train(cfg, [data], out, callbacks=[again]) == final and again.steps == []
    assert all(torch.equal(v, _weights(final)[k]) for k, v in resumed.items())

    # final/ is a complete HF checkpoint: tokenizer + chat template, loads and generates.
    assert (final / "chat_template.jinja").is_file() and not (final / "training_args.bin").exists()
    model = AutoModelForCausalLM.from_pretrained(str(final))
    tok = AutoTokenizer.from_pretrained(str(final))
    enc: Any = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    assert (
        model.generate(**enc, max_new_tokens=3, do_sample=False).shape[1]
        == enc["input_ids"].shape[1] + 3
    )


def test_resume_refuses_a_changed_config(tiny_model: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", _rows())
    out = tmp_path / "run"
    (out / "checkpoint-2").mkdir(parents=True)
    (out / "checkpoint-2" / "trainer_state.json").write_text("{}", encoding="utf-8")
    (out / RUN_RECORD).write_text(
        json.dumps({"config": {"learning_rate": 1.0}, "data": "x"}), encoding="utf-8"
    )
    with pytest.raises(TrainError, match="other configuration"):
        train(_cfg(tiny_model), [data], out)


def test_clear_errors_before_training(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", _rows())
    if not torch.cuda.is_available():
        with pytest.raises(TrainError, match="needs CUDA"):
            train(_cfg(tiny_model, deepspeed="zero2"), [data], tmp_path / "a")
    with pytest.raises(TrainError, match="no such checkpoint folder"):
        train(_cfg(tmp_path / "nowhere"), [data], tmp_path / "b")
    with pytest.raises(TrainError, match="not an HF checkpoint"):
        train(_cfg(tmp_path), [data], tmp_path / "b")
    try:
        import peft  # noqa: F401
    except ImportError:
        with pytest.raises(TrainError, match="needs the peft package"):
            train(_cfg(tiny_model, finetuning="lora"), [data], tmp_path / "d")
    monkeypatch.setenv("WORLD_SIZE", "3")  # total batch 2 cannot be split over 3 processes
    with pytest.raises(TrainError, match="cannot be split over 3"):
        train(_cfg(tiny_model), [data], tmp_path / "c")


@pytest.mark.slow
def test_fine_tune_the_embedded_model_one_step(embedded_checkpoint: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", _rows())
    cfg = _cfg("embedded", max_steps=1, learning_rate=5e-6)
    final = train(cfg, [data], tmp_path / "run")
    assert (
        json.loads((final / "humanllm-train.json").read_text(encoding="utf-8"))["global_step"] == 1
    )
    model = AutoModelForCausalLM.from_pretrained(str(final))
    assert model.config.model_type == "llama"


def test_launch_module_trains_from_a_tasks_folder(tiny_model: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from humanllm.train.launch import app

    tasks = tmp_path / "tasks"
    write_jsonl(tasks / "social_qa" / "train.jsonl", _rows())
    write_jsonl(tasks / "item_selection" / "train.jsonl", _rows())
    config = tmp_path / "run.yaml"
    config.write_text(f"train:\n  base_model: {tiny_model}\n  max_steps: 1\n", encoding="utf-8")
    sets = ["total_batch_size=2", "per_device_batch_size=2", "gradient_checkpointing=false"]
    args = [str(config), "--train", str(tasks), "--out", str(tmp_path / "ckpt")]
    result = CliRunner().invoke(app, args + [a for s in sets for a in ("--set", s)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "ckpt" / "final" / "humanllm-train.json").read_text("utf-8"))
    assert summary["global_step"] == 1 and len(summary["files"]) == 2
    bad = CliRunner().invoke(app, [str(config), "--train", str(tmp_path / "none"), "--out", "x"])
    assert bad.exit_code == 2 and "no such task file" in bad.output
    (tmp_path / "empty").mkdir()
    bad = CliRunner().invoke(app, [str(config), "--train", str(tmp_path / "empty"), "--out", "x"])
    assert bad.exit_code == 2 and "run the tasks stage first" in bad.output
