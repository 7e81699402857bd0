"""Tiny offline fixtures for training and merging tests: a byte-level BPE tokenizer trained
in-process with a ChatML chat template, and a randomly initialised 2-layer Llama (hidden 64)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CORPUS = [
    "I write about my garden, my dog and the books I read on the train.",
    "The user is a 34-year-old nurse who likes hiking and strong coffee.",
    "Write a review of this item in the user's voice.",
    "Great blender, a bit loud, but it crushes ice in seconds. Four stars.",
    "What would Alice do next, and why? She would apologise to her sister.",
    "system user assistant human gpt profile scenario comment item selection",
]


def build_tokenizer(folder: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
    )
    hf.chat_template = CHATML
    hf.save_pretrained(str(folder))
    return folder


def build_model(
    folder: Path,
    tokenizer_dir: Path,
    *,
    seed: int = 0,
    tie: bool = False,
    shard: str = "5GB",
    dtype: str = "float32",
    **overrides: Any,
) -> Path:
    """A random tiny Llama + the tokenizer, saved as an HF checkpoint (float32 safetensors)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    params: dict[str, Any] = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=tie,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    params.update(overrides)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**params)).to(getattr(torch, dtype))
    model.save_pretrained(str(folder), safe_serialization=True, max_shard_size=shard)
    tokenizer.save_pretrained(str(folder))
    return folder


def sharegpt_row(
    i: int, *, system: str | None = "You imitate one user.", turns: int = 1
) -> dict[str, Any]:
    conv = []
    for t in range(turns):
        conv.append(
            {
                "from": "human",
                "value": f"Question {i}.{t}: what would the user write about item {i}?",
            }
        )
        conv.append(
            {"from": "gpt", "value": f"Great blender number {i}, a bit loud. Four stars ({t})."}
        )
    row: dict[str, Any] = {
        "conversations": conv,
        "user_id": f"u{i}",
        "source": "amazon",
        "task": "writing_imitation",
    }
    if system is not None:
        row["system"] = system
    return row


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
