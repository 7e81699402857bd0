"""Weighted average of HF checkpoints of one architecture, streamed piece by piece.

The paper merges the fine-tuned model 1:1 with its base (Lm-cocktail) to keep general ability:
``merged = (fine_tuned + base) / 2``. Weights are normalised to sum to 1, so ``[1, 1]`` is that
mean and ``[1, 3]`` is ``0.25·a + 0.75·b``.

Memory: tensors are never loaded whole. Each tensor is processed in flat slices of
``CHUNK_ELEMENTS`` (1M) elements: the slice is read from every input with ``readinto`` into a
reused buffer (no memory map, so the page cache does not count in the RSS), accumulated in float32
(float64 for float64 inputs), cast back to the first input's dtype and appended to the output
file, whose header was written first from the known shapes, so no output shard is buffered either.
The buffers take ~30 MB for two inputs whatever the model size (a 1.07B-parameter bf16 merge peaks
~32 MB above the RSS of python + torch; see benchmarks/merge.py). The arithmetic runs on one thread
over cache-sized slices, which kept up with plain read + write in our measurements. Output files
are bounded (``max_shard_bytes``) and indexed by ``model.safetensors.index.json``.

Refused, with the reason: a folder without safetensors weights; different ``architectures`` /
``model_type`` / structural config values; different tensor names, shapes; different tokenizers
(vocabulary, merges, added tokens). Integer tensors are copied from the first input after checking
that every input holds the same values. With tied embeddings only the embedding is stored and
merged (``lm_head.weight`` is dropped if some input stores it; loading re-ties it).

Non-weight files (config, generation config, tokenizer, chat template) are copied from the first
input; ``merge.json`` names every input (path + fingerprint) with its weight.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import torch

from humanllm.llm.fingerprint import checkpoint_fingerprint
from humanllm.train.shards import (
    DTYPES,
    FLOATS,
    INDEX,
    OutTensor,
    ShardError,
    ShardWriter,
    TensorInfo,
    plan_shards,
    read_elements,
    shard_names,
    tensor_index,
)

MERGE_RECORD = "merge.json"
CHUNK_ELEMENTS = 1 << 20  # 4 MB of float32: each pass over a slice stays in cache
#: config.json values that must agree (besides architectures and model_type).
STRUCTURE_KEYS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "vocab_size",
    "tie_word_embeddings",
)
_NOT_COPIED_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".gguf"}
_NOT_COPIED = {
    INDEX,
    MERGE_RECORD,
    "README.md",
    "trainer_state.json",
    "training_args.bin",
    "optimizer.pt",
    "scheduler.pt",
}


class MergeError(ValueError):
    """Checkpoints that cannot be merged; the message names the folder and the difference."""


def normalise_weights(weights: list[float] | None, n: int) -> list[float]:
    """Weights summing to 1 (equal weights when ``None``)."""
    if weights is None:
        weights = [1.0] * n
    if len(weights) != n:
        raise MergeError(
            f"{len(weights)} weight(s) for {n} checkpoints: give one weight per checkpoint"
        )
    if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        raise MergeError(f"merge weights {weights}: each must be finite and >= 0, and not all 0")
    total = sum(weights)
    return [w / total for w in weights]


def _config(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise MergeError(f"{folder}: no such checkpoint folder")
    path = folder / "config.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise MergeError(f"{path}: cannot read the model config ({e.strerror or e})") from e
    except ValueError as e:
        raise MergeError(f"{path}: not valid JSON ({e})") from e
    return data


def tokenizer_fingerprint(folder: Path) -> str | None:
    """Hash of what decides token ids: vocabulary, merges, added tokens, normaliser, pre-tokeniser."""
    h = hashlib.sha256()
    path = folder / "tokenizer.json"
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        model = dict(data.get("model") or {})
        if isinstance(model.get("merges"), list):  # pairs or "a b" strings, by tokenizers version
            model["merges"] = [" ".join(m) if isinstance(m, list) else m for m in model["merges"]]
        key = {
            "model": model,
            "added_tokens": sorted((t["id"], t["content"]) for t in data.get("added_tokens") or []),
            "normalizer": data.get("normalizer"),
            "pre_tokenizer": data.get("pre_tokenizer"),
        }
        h.update(json.dumps(key, sort_keys=True).encode())
        return h.hexdigest()[:16]
    found = False
    for name in ("tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "added_tokens.json"):
        if (folder / name).is_file():
            found = True
            h.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return h.hexdigest()[:16] if found else None


def _check_compatible(
    folders: list[Path], configs: list[dict[str, Any]], indexes: list[dict[str, TensorInfo]]
) -> None:
    first, c0 = folders[0], configs[0]
    for folder, c in zip(folders[1:], configs[1:], strict=True):
        for key in ("architectures", "model_type", *STRUCTURE_KEYS):
            if c0.get(key) != c.get(key):
                raise MergeError(
                    f"cannot merge {first} and {folder}: different architecture "
                    f"({key}: {c0.get(key)!r} vs {c.get(key)!r})"
                )
    toks = [tokenizer_fingerprint(f) for f in folders]
    for folder, tok in zip(folders[1:], toks[1:], strict=True):
        if tok != toks[0]:
            what = (
                "one has no tokenizer files"
                if None in (tok, toks[0])
                else "vocabulary, merges or added tokens differ"
            )
            raise MergeError(f"cannot merge {first} and {folder}: different tokenizers ({what})")
    names0 = set(indexes[0])
    for folder, idx in zip(folders[1:], indexes[1:], strict=True):
        if set(idx) != names0:
            only_a, only_b = sorted(names0 - set(idx))[:3], sorted(set(idx) - names0)[:3]
            raise MergeError(
                f"cannot merge {first} and {folder}: different tensor names "
                f"(only in the first: {only_a or '-'}; only in the second: {only_b or '-'})"
            )
        for name, info in idx.items():
            ref = indexes[0][name]
            if info.shape != ref.shape:
                raise MergeError(
                    f"cannot merge {first} and {folder}: tensor {name!r} has shape {list(ref.shape)} vs {list(info.shape)}"
                )
            if (info.dtype in FLOATS) != (ref.dtype in FLOATS):
                raise MergeError(
                    f"cannot merge {first} and {folder}: tensor {name!r} is {ref.dtype} vs {info.dtype}"
                )


@contextmanager
def _single_thread() -> Iterator[None]:
    """Elementwise passes over cache-sized slices run fastest on one thread (no hand-offs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _Scratch:
    """Chunk buffers reused for every slice: no allocation (and no page faults) per slice."""

    def __init__(self, n_inputs: int) -> None:
        self.raw = [torch.empty(CHUNK_ELEMENTS * 8, dtype=torch.uint8) for _ in range(n_inputs)]
        self.out = torch.empty(CHUNK_ELEMENTS * 8, dtype=torch.uint8)
        self._acc: dict[torch.dtype, torch.Tensor] = {}

    def accumulator(self, dtype: torch.dtype, count: int) -> torch.Tensor:
        if dtype not in self._acc:
            self._acc[dtype] = torch.empty(CHUNK_ELEMENTS, dtype=dtype)
        return self._acc[dtype][:count]

    def output(self, dtype: torch.dtype, count: int) -> torch.Tensor:
        return self.out[: count * dtype.itemsize].view(dtype)


def _merge_tensor(
    out: OutTensor,
    infos: list[TensorInfo],
    weights: list[float],
    handles: dict[Path, IO[bytes]],
    writer: ShardWriter,
    scratch: _Scratch,
) -> None:
    numel = infos[0].numel
    floating = out.dtype in FLOATS
    acc_dtype = torch.float64 if any(i.dtype == "F64" for i in infos) else torch.float32
    for start in range(0, numel, CHUNK_ELEMENTS):
        count = min(CHUNK_ELEMENTS, numel - start)
        xs = [
            read_elements(handles[info.file], info, start, count, scratch.raw[k])
            for k, info in enumerate(infos)
        ]
        if not floating:
            if not all(torch.equal(xs[0], x) for x in xs[1:]):
                raise MergeError(
                    f"tensor {out.name!r} ({out.dtype}) differs between inputs: integer tensors cannot be averaged"
                )
            writer.write(xs[0])
            continue
        acc = scratch.accumulator(acc_dtype, count)
        acc.copy_(xs[0])
        acc.mul_(weights[0])
        for x, w in zip(xs[1:], weights[1:], strict=True):
            acc.add_(x, alpha=w)
        result = scratch.output(DTYPES[out.dtype], count)
        result.copy_(acc)
        writer.write(result)


def _copy_side_files(src: Path, dst: Path) -> None:
    """Config, generation config, tokenizer, chat template ... (not weights or training state)."""
    for p in sorted(src.iterdir()):
        skip = p.suffix in _NOT_COPIED_SUFFIXES or p.name in _NOT_COPIED
        if p.is_file() and not skip and not p.name.startswith(("humanllm-", "rng_state")):
            shutil.copy2(p, dst / p.name)


def merge_checkpoints(
    inputs: list[Path],
    weights: list[float] | None,
    out_dir: Path,
    *,
    max_shard_bytes: int = 10**9,
    overwrite: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Average ``inputs`` with ``weights`` (normalised; ``None``: equal) into ``out_dir``; returns it.

    The folder appears complete or not at all (written beside it, then renamed).
    ``on_progress(bytes_done, bytes_total)`` is called after each tensor (for a progress bar).
    """
    folders = [Path(p) for p in inputs]
    out_dir = Path(out_dir)
    if len(folders) < 2:
        raise MergeError("merging needs at least two checkpoints")
    norm = normalise_weights(weights, len(folders))
    t0 = time.perf_counter()
    configs = [_config(f) for f in folders]
    try:
        indexes = [tensor_index(f) for f in folders]
    except ShardError as e:
        raise MergeError(str(e)) from e
    tied = bool(configs[0].get("tie_word_embeddings"))
    if tied:  # the head is the embedding: merge that once, loading re-ties the head
        indexes = [{k: v for k, v in idx.items() if k != "lm_head.weight"} for idx in indexes]
    _check_compatible(folders, configs, indexes)
    plan = [OutTensor(name, info.dtype, info.shape) for name, info in indexes[0].items()]
    shards = plan_shards(plan, max_shard_bytes)
    names = shard_names(len(shards))

    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise MergeError(
            f"{out_dir} already exists and is not empty; remove it or pass overwrite=True"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    total = sum(t.nbytes for t in plan)
    done = 0
    try:
        weight_map: dict[str, str] = {}
        with ExitStack() as stack:
            files = dict.fromkeys(info.file for idx in indexes for info in idx.values())
            handles: dict[Path, IO[bytes]] = {
                f: stack.enter_context(f.open("rb", buffering=0)) for f in files
            }
            stack.enter_context(_single_thread())
            scratch = _Scratch(len(folders))
            for shard, name in zip(shards, names, strict=True):
                writer = ShardWriter(tmp / name, shard)
                try:
                    for out in shard:
                        infos = [idx[out.name] for idx in indexes]
                        _merge_tensor(out, infos, norm, handles, writer, scratch)
                        weight_map[out.name] = name
                        done += out.nbytes
                        if on_progress is not None:
                            on_progress(done, total)
                except BaseException:
                    writer.abort()
                    raise
                writer.close()
        if len(shards) > 1:
            index = {"metadata": {"total_size": total}, "weight_map": weight_map}
            (tmp / INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        _copy_side_files(folders[0], tmp)
        record = {
            "inputs": [
                {
                    "path": str(f.resolve()),
                    "fingerprint": checkpoint_fingerprint(f),
                    "weight": w,
                    "normalised_weight": n,
                }
                for f, w, n in zip(folders, weights or [1.0] * len(folders), norm, strict=True)
            ],
            "method": "weighted average, accumulated in float32, cast to the first input's dtype",
            "tensors": len(plan),
            "parameters": sum(math.prod(t.shape) for t in plan),
            "bytes": total,
            "shards": names,
            "tied_embeddings": tied,
            "wall_s": round(time.perf_counter() - t0, 3),
        }
        (tmp / MERGE_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
