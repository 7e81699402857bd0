"""Reader for blogger (placeholder)."""

from __future__ import annotations

from collections.abc import Iterator

from humanllm.sources import Chunk


def read(cfg: object) -> Iterator[Chunk]:
    raise NotImplementedError("blogger reader")
