"""Safetensors files read and written piecewise, so no whole tensor (or file) is ever in memory.

The format (https://huggingface.co/docs/safetensors): 8 bytes little-endian header length N, N
bytes of JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``,
then the tensors' bytes, contiguous, in row-major order. Reading uses plain ``readinto`` at an
offset (no memory map, so the page cache is not counted in the process's RSS); writing computes
the header first from the shapes and dtypes, then streams the bytes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
FLOATS = {"F64", "F32", "F16", "BF16"}


class ShardError(ValueError):
    """A weights file or folder that cannot be read; the message names the file."""


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor's bytes are: ``file`` from byte ``start``, ``nbytes`` long."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: Path
    start: int
    nbytes: int

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def itemsize(self) -> int:
        return DTYPES[self.dtype].itemsize


def read_header(path: Path) -> list[TensorInfo]:
    """The tensors of one safetensors file, in file order."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > size - 8:
                raise ShardError(
                    f"{path}: header length {n} runs past the end of the file (truncated?)"
                )
            header = json.loads(f.read(n))
    except OSError as e:
        raise ShardError(f"{path}: cannot read ({e.strerror or e})") from e
    except (struct.error, ValueError) as e:
        raise ShardError(f"{path}: not a safetensors file ({e})") from e
    base = 8 + n
    out = []
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = meta.get("dtype")
        if dtype not in DTYPES:
            raise ShardError(f"{path}: tensor {name!r} has unsupported dtype {dtype!r}")
        begin, end = meta["data_offsets"]
        info = TensorInfo(name, dtype, tuple(meta["shape"]), path, base + begin, end - begin)
        if info.nbytes != info.numel * info.itemsize or base + end > size:
            raise ShardError(f"{path}: tensor {name!r} has inconsistent offsets (truncated file?)")
        out.append(info)
    return sorted(out, key=lambda t: t.start)


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of an HF checkpoint folder (single file or index + shards)."""
    index = folder / INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError) as e:
            raise ShardError(f"{index}: not a valid safetensors index ({e})") from e
        files = [folder / name for name in dict.fromkeys(weight_map.values())]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ShardError(f"{index} names missing shard(s): {', '.join(missing)}")
        return files
    if (folder / SINGLE).is_file():
        return [folder / SINGLE]
    others = sorted(
        p.name
        for p in folder.glob("*")
        if p.suffix in {".bin", ".pt", ".pth", ".safetensors", ".gguf"}
    )
    hint = (
        f" (found {', '.join(others)}; re-save with save_pretrained(safe_serialization=True))"
        if others
        else ""
    )
    raise ShardError(f"{folder}: no model weights: neither {SINGLE} nor {INDEX}{hint}")


def tensor_index(folder: Path) -> dict[str, TensorInfo]:
    """Every tensor of a checkpoint folder by name, in file-then-offset order."""
    out: dict[str, TensorInfo] = {}
    for f in weight_files(folder):
        for info in read_header(f):
            if info.name in out:
                raise ShardError(
                    f"{folder}: tensor {info.name!r} is stored twice ({out[info.name].file.name}, {f.name})"
                )
            out[info.name] = info
    if not out:
        raise ShardError(f"{folder}: the weights files hold no tensors")
    return out


def read_elements(
    fh: Any, info: TensorInfo, start: int, count: int, into: torch.Tensor | None = None
) -> torch.Tensor:
    """Elements ``[start, start + count)`` of a tensor (flattened) as a 1-D tensor, read into the
    uint8 buffer ``into`` when given (it must hold the bytes), else into a fresh one."""
    nbytes = count * info.itemsize
    buf = torch.empty(nbytes, dtype=torch.uint8) if into is None else into[:nbytes]
    fh.seek(info.start + start * info.itemsize)
    view = buf.numpy().data
    got = 0
    while got < nbytes:
        n = fh.readinto(view[got:])
        if not n:
            raise ShardError(f"{info.file}: unexpected end of file in tensor {info.name!r}")
        got += n
    return buf.view(DTYPES[info.dtype])


@dataclass(frozen=True)
class OutTensor:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        n = DTYPES[self.dtype].itemsize
        for d in self.shape:
            n *= d
        return n


class ShardWriter:
    """Writes one safetensors file whose tensors are declared up front and streamed in order."""

    def __init__(
        self, path: Path, tensors: list[OutTensor], metadata: dict[str, str] | None = None
    ) -> None:
        header: dict[str, object] = {"__metadata__": metadata or {"format": "pt"}}
        offset = 0
        for t in tensors:
            header[t.name] = {
                "dtype": t.dtype,
                "shape": list(t.shape),
                "data_offsets": [offset, offset + t.nbytes],
            }
            offset += t.nbytes
        blob = json.dumps(header, separators=(",", ":")).encode()
        blob += b" " * (-len(blob) % 8)  # tensors start 8-byte aligned
        self.path = path
        self.expected = offset
        self.written = 0
        self._fh = path.open("wb")
        self._fh.write(struct.pack("<Q", len(blob)) + blob)

    def write(self, data: torch.Tensor) -> None:
        raw = data.reshape(-1).view(torch.uint8).numpy()
        self._fh.write(raw.data)
        self.written += raw.nbytes

    def abort(self) -> None:
        """Close without the completeness check (the caller discards the file)."""
        self._fh.close()

    def close(self) -> None:
        self._fh.close()
        if self.written != self.expected:
            raise ShardError(
                f"{self.path}: wrote {self.written} bytes of tensor data, declared {self.expected}"
            )


def plan_shards(tensors: Iterable[OutTensor], max_bytes: int) -> list[list[OutTensor]]:
    """Split tensors, in order, into files of at most ``max_bytes`` (a bigger tensor gets its own)."""
    shards: list[list[OutTensor]] = [[]]
    size = 0
    for t in tensors:
        if shards[-1] and size + t.nbytes > max_bytes:
            shards.append([])
            size = 0
        shards[-1].append(t)
        size += t.nbytes
    return shards


def shard_names(count: int) -> list[str]:
    if count == 1:
        return [SINGLE]
    return [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]
