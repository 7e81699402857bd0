"""The content fingerprint of a Hugging Face checkpoint folder.

It is part of a transformers backend's ``model_id``, hence of every request-cache and
log-likelihood-cache key and of the evaluation results; ``merge.json`` names each merged input by
it. It reads a bounded sample, so a 7B checkpoint is fingerprinted in milliseconds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_SAMPLE_BYTES = 4 * 1024 * 1024


def checkpoint_fingerprint(folder: Path) -> str:
    """``config.json`` plus name, size and first/last 4 MiB of each weights file, hashed."""
    h = hashlib.sha256()
    config = folder / "config.json"
    if config.is_file():
        h.update(config.read_bytes())
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with f.open("rb") as fh:
            h.update(fh.read(_SAMPLE_BYTES))
            fh.seek(max(0, size - _SAMPLE_BYTES))
            h.update(fh.read(_SAMPLE_BYTES))
    return h.hexdigest()[:12]
