"""Supervised fine-tuning with TRL's ``SFTTrainer`` (full fine-tuning by default, LoRA optional).

Loss mask: rows are prompt/completion conversations (see :mod:`humanllm.train.data`). TRL
tokenizes ``prompt`` with the chat template and a generation prompt, then ``prompt + completion``,
and sets the labels of the common prefix to -100 (``completion_only_loss``): only the final reply
and its end-of-turn token are learned. SmolLM2's chat template has no ``{% generation %}`` markers,
so TRL's ``assistant_only_loss`` is not used.

Layout of ``out_dir``::

    checkpoint-N/         model, optimizer, scheduler, RNG and trainer state every save_steps
    final/                the result: safetensors + config + tokenizer + chat template + humanllm-train.json
    humanllm-run.json     the config and data fingerprint the checkpoints belong to
    data-cache/           Arrow copies of the task files (keyed by content)

An interrupted run resumes from the newest ``checkpoint-N`` when :func:`train` is called again
with the same config and data; a different config or data is refused rather than mixed.

Multi-GPU and multi-node: run :mod:`humanllm.train.launch` under ``accelerate launch`` (see there);
DeepSpeed ZeRO-2/3 is chosen with ``deepspeed: zero2|zero3``. Those paths need CUDA GPUs and are
not exercised by the CPU test-suite.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from humanllm.train.config import DEEPSPEED_PRESETS, TrainConfig
from humanllm.train.data import files_fingerprint, load_sft_dataset

if TYPE_CHECKING:
    import torch
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

RUN_RECORD = "humanllm-run.json"
SUMMARY = "humanllm-train.json"
FINAL = "final"
# Fields that change neither the model nor the data order: a run may resume with other values.
_RESUMABLE_CHANGES = {
    "max_steps",
    "save_steps",
    "save_total_limit",
    "logging_steps",
    "eval_steps",
    "cpu_threads",
}
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


class TrainError(RuntimeError):
    """Training cannot start or continue; the message says why and what to do."""


def world_size() -> int:
    """Number of training processes (``WORLD_SIZE``, set by ``accelerate launch`` / ``torchrun``)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def deepspeed_config_path(name: str) -> Path:
    """The json for ``zero2`` / ``zero3`` (shipped in ``humanllm/train/deepspeed/``) or a user path."""
    path = (
        Path(__file__).with_name("deepspeed") / f"{name}.json"
        if name in DEEPSPEED_PRESETS
        else Path(name)
    )
    if not path.is_file():
        raise TrainError(f"DeepSpeed config {path} does not exist")
    return path


def resolve_base_model(name: str) -> str:
    """A folder or Hub id that ``from_pretrained`` accepts; 'embedded' is converted once and cached."""
    if name == "embedded":
        from humanllm.llm.embedded import EmbeddedModelError, embedded_hf_checkpoint

        try:
            return str(embedded_hf_checkpoint())
        except EmbeddedModelError as e:
            raise TrainError(str(e)) from e
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainError(f"{path}: not an HF checkpoint folder (no config.json)")
        return str(path)
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name
    if path.exists() or looks_like_path:
        raise TrainError(f"{name}: no such checkpoint folder")
    return name  # a Hub id such as Qwen/Qwen2.5-7B-Instruct


def last_checkpoint(out_dir: Path) -> Path | None:
    """The ``checkpoint-N`` folder with the largest N that holds a trainer state, if any."""
    if not out_dir.is_dir():
        return None
    found = [
        (int(m.group(1)), p)
        for p in out_dir.iterdir()
        if (m := _CHECKPOINT.match(p.name)) and (p / "trainer_state.json").is_file()
    ]
    return max(found)[1] if found else None


def _cuda_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def build_sft_config(cfg: TrainConfig, out_dir: Path, *, has_eval: bool = False) -> SFTConfig:
    """Translate :class:`TrainConfig` into TRL's ``SFTConfig`` for this machine."""
    import torch
    from trl import SFTConfig

    cuda = torch.cuda.is_available()
    deepspeed = None
    if cfg.deepspeed is not None:
        if not cuda:
            raise TrainError(
                f"deepspeed: {cfg.deepspeed} needs CUDA GPUs; set deepspeed to null on this machine"
            )
        deepspeed = str(deepspeed_config_path(cfg.deepspeed))
    try:
        accumulation = cfg.gradient_accumulation(world_size())
    except ValueError as e:
        raise TrainError(str(e)) from e
    return SFTConfig(
        output_dir=str(out_dir),
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.per_device_batch_size,
        per_device_eval_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=accumulation,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=0,  # set from warmup_ratio once the number of steps is known: warm_up_by_ratio
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        bf16=cfg.bf16 and _cuda_bf16(),
        fp16=False,
        use_cpu=not cuda,
        activation_checkpointing=cfg.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False}
        if cfg.gradient_checkpointing
        else None,
        deepspeed=deepspeed,
        max_length=cfg.max_length,
        packing=cfg.packing,
        completion_only_loss=True,
        assistant_only_loss=False,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=cfg.eval_steps or cfg.save_steps,
        logging_steps=cfg.logging_steps,
        include_num_input_tokens_seen="all" if cfg.packing else "non_padding",
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        disable_tqdm=False,
        dataloader_num_workers=0,
    )


def warmup_steps(ratio: float, total_steps: int) -> int:
    """Optimizer steps of linear warm-up: ``ratio`` of ``total_steps``, rounded up."""
    return math.ceil(ratio * total_steps)


def warm_up_by_ratio(trainer: Any, ratio: float) -> None:
    """Make ``trainer`` warm up for ``ratio`` of its optimizer steps, counted when it builds its
    scheduler, as a whole number of steps.

    ``warmup_steps=0.5`` means half the steps only on transformers versions that read a float
    below 1 as a ratio; older ones (>= 4.46 is allowed) take it as 0.5 steps, i.e. no warm-up, and
    ``warmup_ratio`` is deprecated on newer ones. An int of steps means the same on all.
    """
    create = trainer.create_scheduler

    def create_scheduler(num_training_steps: int, optimizer: Any = None) -> Any:
        trainer.args.warmup_steps = warmup_steps(ratio, num_training_steps)
        return create(num_training_steps=num_training_steps, optimizer=optimizer)

    trainer.create_scheduler = create_scheduler


def _peft_config(cfg: TrainConfig) -> Any:
    if cfg.finetuning != "lora":
        return None
    try:
        import peft
    except ImportError as e:
        raise TrainError(
            "finetuning: lora needs the peft package: pip install peft (or use finetuning: full)"
        ) from e
    if cfg.deepspeed == "zero3":
        raise TrainError(
            "finetuning: lora is not supported with deepspeed: zero3 here; use zero2 or full fine-tuning"
        )
    return peft.LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
        task_type="CAUSAL_LM",
    )


def base_dtype(model_path: str) -> torch.dtype:
    """The dtype a checkpoint was saved in (config ``dtype`` / ``torch_dtype``; float32 if unset)."""
    import torch
    from transformers import AutoConfig

    dtype = getattr(AutoConfig.from_pretrained(model_path), "dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def build_trainer(
    cfg: TrainConfig,
    train_files: list[Path],
    out_dir: Path,
    eval_files: list[Path] | None = None,
    callbacks: list[TrainerCallback] | None = None,
) -> SFTTrainer:
    """The ready-to-run trainer: model (float32 master weights), tokenizer, tokenized datasets."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    if cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    model_path = resolve_base_model(cfg.base_model)
    args = build_sft_config(cfg, out_dir, has_eval=bool(eval_files))
    peft_config = _peft_config(cfg)
    cache = out_dir / "data-cache"
    with args.main_process_first(local=False, desc="reading task files"):
        train_ds = load_sft_dataset(list(train_files), cache)
        eval_ds = load_sft_dataset(list(eval_files), cache) if eval_files else None
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if not getattr(tokenizer, "chat_template", None):
        raise TrainError(
            f"{model_path}: the tokenizer has no chat template; use an instruct (chat) checkpoint"
        )
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    warm_up_by_ratio(trainer, cfg.warmup_ratio)
    return trainer


def _run_record(cfg: TrainConfig, train_files: list[Path]) -> dict[str, Any]:
    key = cfg.model_dump(mode="json", exclude=_RESUMABLE_CHANGES)
    return {
        "config": key,
        "data": files_fingerprint(train_files),
        "files": [str(f) for f in train_files],
    }


def _check_resumable(out_dir: Path, record: dict[str, Any], checkpoint: Path) -> None:
    path = out_dir / RUN_RECORD
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # checkpoints from before run records: trust them
    for part, what in (("config", "configuration"), ("data", "training data")):
        if previous.get(part) != record[part]:
            raise TrainError(
                f"{out_dir} holds {checkpoint.name} from a run with other {what}; resuming would mix two runs. "
                "Delete the folder (or use a new one) to start over, or restore the previous settings to resume."
            )


def _save_weights(trainer: SFTTrainer, cfg: TrainConfig, model_path: str, folder: Path) -> None:
    """Write the trained weights (LoRA merged in) in the save dtype, with the tokenizer."""
    import torch

    dtype = base_dtype(model_path) if cfg.save_dtype == "auto" else getattr(torch, cfg.save_dtype)
    model: Any = trainer.model
    if cfg.finetuning == "lora":
        if trainer.is_world_process_zero():
            merged = trainer.accelerator.unwrap_model(model).merge_and_unload()
            merged.to(dtype).save_pretrained(str(folder), safe_serialization=True)
            tokenizer: Any = trainer.processing_class
            tokenizer.save_pretrained(str(folder))
        return
    if not trainer.is_deepspeed_enabled:  # DeepSpeed already saves 16-bit weights
        model.to(dtype)
    trainer.save_model(str(folder))


def train(
    cfg: TrainConfig,
    train_files: list[Path],
    out_dir: Path,
    eval_files: list[Path] | None = None,
    *,
    callbacks: list[TrainerCallback] | None = None,
) -> Path:
    """Fine-tune ``cfg.base_model`` on ShareGPT ``train_files``; returns ``out_dir/final``.

    Resumes from the newest ``out_dir/checkpoint-N`` left by an interrupted call with the same
    config and data (a finished run resumes at its last step and only rewrites ``final/``).
    ``callbacks`` are extra ``transformers.TrainerCallback`` objects (progress, tests).
    """
    out_dir = Path(out_dir)
    train_files = [Path(f) for f in train_files]
    out_dir.mkdir(parents=True, exist_ok=True)
    record = _run_record(cfg, train_files)
    checkpoint = last_checkpoint(out_dir)
    if checkpoint is not None:
        _check_resumable(out_dir, record, checkpoint)
    trainer = build_trainer(cfg, train_files, out_dir, eval_files, callbacks)
    if trainer.is_world_process_zero():
        (out_dir / RUN_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    wall = time.perf_counter() - t0

    final, tmp = out_dir / FINAL, out_dir / f".{FINAL}.tmp"
    if trainer.is_world_process_zero():
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    model_path = resolve_base_model(cfg.base_model)
    _save_weights(trainer, cfg, model_path, tmp)
    if trainer.is_world_process_zero():
        (tmp / "training_args.bin").unlink(missing_ok=True)
        summary = {
            "base_model": cfg.base_model,
            "base_model_path": model_path,
            "resumed_from": checkpoint.name if checkpoint else None,
            "global_step": trainer.state.global_step,
            "gradient_accumulation_steps": trainer.args.gradient_accumulation_steps,
            "world_size": world_size(),
            "train_sequences": getattr(trainer.train_dataset, "num_rows", None),
            "metrics": result.metrics,
            "wall_s": round(wall, 3),
            "config": cfg.model_dump(mode="json"),
            "data": record["data"],
            "files": record["files"],
        }
        (tmp / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    trainer.accelerator.wait_for_everyone()
    return final
