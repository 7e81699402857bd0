"""Prompt token counts with the stage model's own tokenizer where it is on this machine, else an
approximation that says so.

- llama.cpp backends: the GGUF's vocabulary through ``llama_cpp`` (``vocab_only``: no weights);
- transformers backends: the checkpoint folder's tokenizer, offline (``embedded``: the
  de-quantized checkpoint :mod:`humanllm.llm.embedded` caches, only if it is already there);
- anything else (an OpenAI-compatible server, whose tokenizer is not here): characters / 4.

A chat turn adds the template's markers around each message: :data:`TURN_OVERHEAD` tokens per
message are added to every count (the ChatML / Llama-3 templates use 4-5).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from humanllm.llm.prompts import Messages

CHARS_PER_TOKEN = 4
TURN_OVERHEAD = 5


@dataclass(frozen=True)
class Tokenizer:
    """``count(text) -> tokens`` and what the counts come from (shown in the plan)."""

    method: str
    count: Callable[[str], int]

    def messages(self, messages: Messages) -> int:
        return sum(self.count(content) + TURN_OVERHEAD for _, content in messages)


def approximate() -> Tokenizer:
    return Tokenizer(
        f"approx: characters / {CHARS_PER_TOKEN}",
        lambda text: (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN,
    )


def _llamacpp(model_path: str | None) -> Tokenizer | None:
    try:
        import llama_cpp

        from humanllm.llm.embedded import embedded_gguf_path

        path = Path(model_path) if model_path else embedded_gguf_path()
        if not path.is_file():
            return None
        with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
            vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    except Exception:  # no llama_cpp, no embedded model, an unreadable file: approximate
        return None

    def count(text: str) -> int:
        return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    return Tokenizer(f"tokenizer: {path.name} (llama.cpp vocabulary)", count)


def _hf_folder(model_path: str) -> Path | None:
    if model_path == "embedded":
        from humanllm.llm.embedded import HF_FOLDER_NAME, cache_root

        folder = cache_root() / HF_FOLDER_NAME
    else:
        folder = Path(model_path).expanduser()
    return folder if (folder / "tokenizer_config.json").is_file() else None


def _transformers(model_path: str) -> Tokenizer | None:
    folder = _hf_folder(model_path)
    if folder is None:
        return None
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception:  # no transformers, a broken folder: approximate
        return None

    def count(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    return Tokenizer(f"tokenizer: {folder.name} (transformers)", count)


def tokenizer_for(backend: Any) -> Tokenizer:
    """The tokenizer of a backend config, or the stated approximation."""
    kind = getattr(backend, "kind", None)
    found: Tokenizer | None = None
    if kind == "llamacpp":
        found = _llamacpp(backend.model_path)
    elif kind == "transformers":
        found = _transformers(backend.model_path)
    return found or approximate()
