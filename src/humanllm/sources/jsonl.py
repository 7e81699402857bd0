"""Generic JSONL reader: any other platform, one JSON object per line, ``.jsonl``, ``.jsonl.gz``
or ``.jsonl.zst`` (a file, a folder or a glob).

``fields`` maps record columns (``record_id``, ``user_id``, ``created_at``, ``text``, ``title``)
to input field names; a dotted name (``author.id``) reaches into nested objects (a key that
itself contains a dot is matched first). A column left out of ``fields`` reads the input field
of the same name. ``record_id``, ``user_id`` and ``text`` are required: a line without them is a
``parse.missing_field`` reject naming the field and ``file:line``. Ids may be strings or
integers (written as decimal strings); ``text`` and ``title`` must be strings. ``created_at`` is
optional (null when absent) and read per ``time_unit``: ``s`` / ``ms`` numbers since the epoch,
or ``iso`` ISO-8601 strings (no zone = UTC). A value of the wrong type is a ``parse.bad_type``
reject (e.g. ``"1600000000"`` as a string with ``time_unit: s``), an unreadable ISO string or
an out-of-range number a ``parse.bad_value`` reject.

``meta`` = every top-level input field not used as a column, as a JSON object (a nested field
picked by a dotted path leaves its parent object in meta), plus ``_bad_utf8: true`` on a line
that was not valid UTF-8 (it is kept, decoded with U+FFFD replacement).

Other rejects: ``parse.bad_json`` / ``parse.not_object`` (detail ``file:line: error``),
``parse.truncated_file`` / ``parse.corrupt_file`` /
``parse.unreadable_file`` for a file that cannot be read to its end
(the lines before it are kept). An empty file yields nothing (a log notice).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from humanllm.sources import Chunk, SourceError, expand_paths
from humanllm.sources._ba_io import (
    JSONL_PATTERNS,
    Batch,
    FieldError,
    epoch_micros,
    read_objects,
    want_number,
    want_str,
)
from humanllm.sources.config import JsonlSource
from humanllm.sources.kind import source_kind

COLUMNS = ("record_id", "user_id", "created_at", "text", "title")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def field_map(cfg: Any) -> dict[str, str]:
    unknown = sorted(set(cfg.fields) - set(COLUMNS))
    if unknown:
        raise SourceError(
            f"{cfg.path}: 'fields' maps unknown record column(s) {unknown}; use {list(COLUMNS)}"
        )
    return {col: cfg.fields.get(col, col) for col in COLUMNS}


def parse_time(obj: dict[str, Any], key: str, unit: str) -> int | None:
    """The created_at field in microseconds since the epoch (None when absent)."""
    if unit != "iso":
        value = want_number(obj, key, required=False)
        return None if value is None else epoch_micros(value, unit, key)
    text = want_str(obj, key, required=False)
    if text is None:
        return None
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise FieldError(
            "parse.bad_value", f"field {key!r}: not an ISO-8601 time ({text[:40]!r})"
        ) from e
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return (stamp - _EPOCH) // _US


def parse_line(
    obj: dict[str, Any], fields: dict[str, str], unit: str
) -> tuple[str, str, int | None, str, str | None, dict[str, Any]]:
    record_id = want_str(obj, fields["record_id"], required=True, ids=True)
    user_id = want_str(obj, fields["user_id"], required=True, ids=True)
    text = want_str(obj, fields["text"], required=True)
    title = want_str(obj, fields["title"], required=False)
    micros = parse_time(obj, fields["created_at"], unit)
    used = set(fields.values())
    meta = {k: v for k, v in obj.items() if k not in used}
    assert record_id is not None and user_id is not None and text is not None
    return record_id, user_id, micros, text, title, meta


def filtered_as(cfg: JsonlSource) -> str | None:
    """The kind whose rules (and platform name) a JSONL source takes: ``filter_as``, if set."""
    return None if cfg.filter_as == "none" else cfg.filter_as


@source_kind(
    JsonlSource,
    platform="social-media post",
    rules="humanllm.filters.generic:flag",
    acts_as=filtered_as,
)
def read(cfg: Any) -> Iterator[Chunk]:
    """Stream every line of every JSONL file under ``cfg.path`` into records (or rejects)."""
    fields = field_map(cfg)
    batch = Batch(cfg.source_name, cfg.batch_size)
    for path in expand_paths(cfg.path, JSONL_PATTERNS):
        for parsed in read_objects(path, batch):
            if parsed.obj is not None:
                try:
                    rid, uid, micros, text, title, meta = parse_line(
                        parsed.obj, fields, cfg.time_unit
                    )
                except FieldError as e:
                    batch.reject_field(path, parsed.line, e)
                else:
                    if parsed.bad_utf8:
                        meta["_bad_utf8"] = True
                    batch.add(rid, uid, micros, text, title, meta)
            if batch.full():
                yield batch.take()
    if not batch.empty():
        yield batch.take()
