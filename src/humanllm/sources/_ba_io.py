"""Shared plumbing of the Blogger, Amazon and generic JSONL readers (private).

* :func:`iter_lines` streams the lines of a ``.jsonl``, ``.jsonl.gz`` or ``.jsonl.zst`` file in
  bounded memory (one compressed block plus the longest line). A gzip/zstd stream that ends early
  or is corrupt raises :class:`StreamError` naming the file and the last complete line
  (reason ``parse.truncated_file`` or ``parse.corrupt_file``); the
  lines before it have already been yielded, so the caller keeps them and writes one reject.
  Lines that are not valid UTF-8 are decoded with U+FFFD replacement and marked ``bad_utf8``.
* :func:`iter_objects` parses each line as a JSON object, turning a bad line into a reject.
* :class:`Batch` gathers records and rejects column-wise and hands them out as a :class:`Chunk`,
  normalising ``text`` and ``title`` column-wise (:func:`~humanllm.records.normalize_expr`; an
  empty title becomes null).
* :class:`FieldError` and the ``want_*`` checks give a reason and a message for a field that is
  missing or of the wrong type.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import zstandard

from humanllm.records import RECORD_SCHEMA, normalize_expr
from humanllm.sources import Chunk, SourceError

log = logging.getLogger(__name__)

JSONL_PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.jsonl.zst")
_BLOCK = 1 << 18  # compressed bytes read at a time


class StreamError(SourceError):
    """A file whose bytes cannot be read to the end (truncated or corrupt compressed data)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _raw_blocks(fh: Any) -> Iterator[bytes]:
    while block := fh.read(_BLOCK):
        yield block


def _inflate(blocks: Iterator[bytes], kind: str) -> Iterator[bytes]:
    """Decompress gzip (multi-member) or zstd (multi-frame); raise EOFError if the data stops early."""

    def new() -> Any:
        if kind == "gz":
            return zlib.decompressobj(wbits=31)
        return zstandard.ZstdDecompressor(max_window_size=2**31).decompressobj()

    dec = new()
    fresh = True  # no input fed to ``dec`` yet
    for block in blocks:
        data = block
        while data:
            out = dec.decompress(data)
            fresh = False
            if out:
                yield out
            if not dec.eof:
                break
            data = dec.unused_data
            dec, fresh = new(), True
    if not fresh and not dec.eof:
        raise EOFError("compressed stream ends before its end marker")


def _blocks(path: Path) -> Iterator[bytes]:
    name = path.name.lower()
    with path.open("rb") as fh:
        if name.endswith(".gz"):
            yield from _inflate(_raw_blocks(fh), "gz")
        elif name.endswith(".zst"):
            yield from _inflate(_raw_blocks(fh), "zst")
        else:
            yield from _raw_blocks(fh)


def iter_lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    """Yield ``(line_number, text, bad_utf8)`` for every non-blank line (numbers start at 1)."""
    pending: list[bytes] = []
    line_no = 0
    try:
        for block in _blocks(path):
            parts = block.split(b"\n")
            for part in parts[:-1]:
                pending.append(part)
                raw = b"".join(pending)
                pending = []
                line_no += 1
                yield _decode(raw, line_no)
            if parts[-1]:
                pending.append(parts[-1])
        if pending:
            line_no += 1
            yield _decode(b"".join(pending), line_no)
    except OSError as e:  # includes gzip header errors; the file could not be read
        raise StreamError(
            f"{path}: cannot read after line {line_no} ({e})", "parse.unreadable_file"
        ) from e
    except EOFError as e:
        raise StreamError(
            f"{path}: compressed data ends early (truncated file) after line {line_no} ({e})",
            "parse.truncated_file",
        ) from e
    except (zlib.error, zstandard.ZstdError) as e:
        raise StreamError(
            f"{path}: compressed data is corrupt after line {line_no} ({e})", "parse.corrupt_file"
        ) from e


def _decode(raw: bytes, line_no: int) -> tuple[int, str, bool]:
    try:
        text = raw.decode("utf-8")
        bad = False
    except UnicodeDecodeError:
        text, bad = raw.decode("utf-8", errors="replace"), True
    if line_no == 1:
        text = text.lstrip("\ufeff")
    return line_no, text.rstrip("\r"), bad


@dataclass
class Parsed:
    line: int
    obj: dict[str, Any] | None  # None: the line is a reject, see reason/detail
    bad_utf8: bool = False
    reason: str = ""
    detail: str = ""


def iter_objects(path: Path) -> Iterator[Parsed]:
    """Parse each non-blank line of ``path`` as a JSON object (may raise :class:`StreamError`)."""
    for line_no, text, bad in iter_lines(path):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield Parsed(
                line_no,
                None,
                bad,
                "parse.bad_json",
                f"{path}:{line_no}: {e.msg} (column {e.colno})",
            )
            continue
        except (ValueError, RecursionError) as e:
            yield Parsed(line_no, None, bad, "parse.bad_json", f"{path}:{line_no}: {e}")
            continue
        if not isinstance(obj, dict):
            yield Parsed(
                line_no,
                None,
                bad,
                "parse.not_object",
                f"{path}:{line_no}: a JSON {type(obj).__name__}, not an object",
            )
            continue
        yield Parsed(line_no, obj, bad)


class FieldError(ValueError):
    """A field that is missing or has the wrong type; ``reason`` is the reject reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_MISSING = object()


def lookup(obj: dict[str, Any], path: str) -> Any:
    """``obj[path]``, or a dotted path into nested objects; ``_MISSING`` when absent."""
    if path in obj:
        return obj[path]
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def want_str(obj: dict[str, Any], key: str, *, required: bool, ids: bool = False) -> str | None:
    """A string field; ``ids`` also accepts an integer (written as its decimal string)."""
    value = lookup(obj, key)
    if value is _MISSING or value is None:
        if required:
            raise FieldError("parse.missing_field", f"required field {key!r} is missing or null")
        return None
    if isinstance(value, str):
        if required and ids and not value.strip():
            raise FieldError("parse.missing_field", f"required field {key!r} is empty")
        return value
    if ids and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise FieldError(
        "parse.bad_type",
        f"field {key!r} must be a string, got {type(value).__name__} {_show(value)}",
    )


def want_number(
    obj: dict[str, Any], key: str, *, required: bool, integer: bool = False
) -> float | int | None:
    value = lookup(obj, key)
    if value is _MISSING or value is None:
        if required:
            raise FieldError("parse.missing_field", f"required field {key!r} is missing or null")
        return None
    ok = isinstance(value, int) or (not integer and isinstance(value, float))
    if isinstance(value, bool) or not ok:
        kind = "an integer" if integer else "a number"
        raise FieldError(
            "parse.bad_type",
            f"field {key!r} must be {kind}, got {type(value).__name__} {_show(value)}",
        )
    return value


def want_bool(obj: dict[str, Any], key: str) -> bool | None:
    value = lookup(obj, key)
    if value is _MISSING or value is None:
        return None
    if not isinstance(value, bool):
        raise FieldError(
            "parse.bad_type",
            f"field {key!r} must be true/false, got {type(value).__name__} {_show(value)}",
        )
    return value


_MAX_US = 2**62


def epoch_micros(value: float | int, unit: str, key: str) -> int:
    """Seconds or milliseconds since the epoch -> integer microseconds (range-checked)."""
    us = round(value * (1_000_000 if unit == "s" else 1_000))
    if not -_MAX_US < us < _MAX_US:
        raise FieldError("parse.bad_value", f"field {key!r}: timestamp {value!r} is out of range")
    return us


@dataclass
class Batch:
    """Records and rejects of one source, gathered column-wise until :meth:`take`."""

    source: str
    size: int
    cols: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in RECORD_SCHEMA})
    rej: dict[str, list[str]] = field(
        default_factory=lambda: {"record_id": [], "reason": [], "detail": []}
    )

    def add(
        self,
        record_id: str,
        user_id: str,
        micros: int | None,
        text: str,
        title: str | None,
        meta: dict[str, Any],
    ) -> None:
        c = self.cols
        c["source"].append(self.source)
        c["record_id"].append(record_id)
        c["user_id"].append(user_id)
        c["created_at"].append(micros)
        c["text"].append(text)
        c["title"].append(title)
        c["meta"].append(json.dumps(meta, ensure_ascii=False))

    def reject(self, record_id: str, reason: str, detail: str) -> None:
        self.rej["record_id"].append(record_id)
        self.rej["reason"].append(reason)
        self.rej["detail"].append(detail)

    def reject_field(self, path: Path, line: int, err: FieldError) -> None:
        """Reject line ``line`` of ``path`` for the field error ``err``."""
        self.reject(f"{path.name}:{line}", err.reason, f"{path}:{line}: {err}")

    def full(self) -> bool:
        return len(self.cols["record_id"]) + len(self.rej["record_id"]) >= self.size

    def empty(self) -> bool:
        return not self.cols["record_id"] and not self.rej["record_id"]

    def take(self, items: pl.DataFrame | None = None) -> Chunk:
        schema = {**RECORD_SCHEMA, "created_at": pl.Int64()}
        title = normalize_expr(pl.col("title"))
        records = pl.DataFrame(self.cols, schema=schema).with_columns(
            pl.col("created_at").cast(RECORD_SCHEMA["created_at"]),
            normalize_expr(pl.col("text")).alias("text"),
            pl.when(title != "").then(title).alias("title"),
        )
        rejects = (
            pl.DataFrame(self.rej, schema={k: pl.String() for k in self.rej})
            if self.rej["record_id"]
            else None
        )
        self.cols = {k: [] for k in RECORD_SCHEMA}
        self.rej = {"record_id": [], "reason": [], "detail": []}
        return Chunk(records=records, rejects=rejects, items=items)


def read_objects(path: Path, batch: Batch) -> Iterator[Parsed]:
    """Every parsed line of ``path``; a line that is not a JSON object, and a stream cut off, are
    rejects in ``batch`` (an empty file: a log notice)."""
    n = 0
    try:
        for parsed in iter_objects(path):
            n += 1
            if parsed.obj is None:
                batch.reject(f"{path.name}:{parsed.line}", parsed.reason, parsed.detail)
            yield parsed
    except StreamError as e:
        batch.reject(f"{path.name}:end", e.reason, str(e))
    if n == 0:
        log.warning("%s: empty file, nothing read", path)
