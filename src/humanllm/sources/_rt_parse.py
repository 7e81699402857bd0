"""Vectorised parsing shared by the Reddit and Twitter readers (and read back by their rules).

Raw columns arrive as strings (REDDIT_submissions stores every column as a string, JSONL values
are turned into strings on the way in) or in their native dtype (twitter100m parquet): every
helper takes a column of either kind and returns the typed column, null where the value does not
parse; :func:`bad_value` tells a missing value from one that is present but unparseable, so the
readers can reject the second kind with its file and row instead of losing it.

Expensive work runs only on the rows that need it: the rare rows are gathered, handled, and
scattered back (a masked ``when/then`` would not help: Polars string kernels still visit the
masked values).
"""

from __future__ import annotations

import html
from collections.abc import Callable

import polars as pl

#: Strings that mean "no value" in exports that stringified their nulls (pandas ``astype(str)``).
NULL_WORDS = ["", "None", "none", "nan", "NaN", "null", "NULL"]
_TRUE = ["True", "true", "TRUE", "t", "T", "1", "yes", "Yes", "y"]
_FALSE = ["False", "false", "FALSE", "f", "F", "0", "no", "No", "n"]
_UTC = pl.Datetime("us", "UTC")
#: Non-ASCII characters that Rust's (and so Polars') ``\s`` matches, and the zero-width ones
#: :func:`normalize_expr` removes.
_UNICODE_SPACE = ["\x85", "\xa0", "\u1680", *(chr(c) for c in range(0x2000, 0x200B))]
_UNICODE_SPACE += ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
_ZERO_WIDTH = "[\u200b\u200c\u200d\u2060\ufeff]"
_WIDE_SPACE = "[" + "".join(_UNICODE_SPACE) + "]"
_CONTROL_SPACE = "[\t\x0b\x0c\r]"
#: The characters :func:`normalize` removes or replaces before its ASCII path.
_RARE = "[" + "".join(_UNICODE_SPACE) + _ZERO_WIDTH[1:]
#: Entities unescaped without Python (what ``html.unescape`` turns them into).
ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#x27;": "'", "&apos;": "'",
            "&nbsp;": "\xa0", "&#x200B;": "\u200b", "&#x200b;": "\u200b", "&#32;": " "}  # fmt: skip
_ENTITY_RE = "|".join(ENTITIES)
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M%:z", "%Y-%m-%d")


def _patch(out: pl.Series, todo: pl.Series, fn: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``out`` with the rows where ``todo`` is true replaced by ``fn(their indices)``."""
    idx = todo.fill_null(False).arg_true()
    if idx.len() == 0:
        return out
    return out.scatter(idx, fn(idx))


def _none(n: int) -> pl.Series:
    return pl.repeat(False, n, dtype=pl.Boolean, eager=True)


def _unescape(s: pl.Series) -> pl.Series:
    """``html.unescape`` of every row. When every ``&`` of a row starts one of the common
    entities (as in Reddit's escaping of ``&``, ``<``, ``>``), one vectorised replacement is
    equal to it (both are a single left-to-right pass); other rows call it."""
    out = s.str.replace_many(list(ENTITIES), list(ENTITIES.values()))
    odd = s.str.count_matches("&", literal=True) != s.str.count_matches(_ENTITY_RE)
    return _patch(
        out, odd, lambda i: s.gather(i).map_elements(html.unescape, return_dtype=pl.String)
    )


def normalize(s: pl.Series) -> pl.Series:
    r""":func:`humanllm.records.normalize_expr`, row for row, at a fraction of the cost: the same
    steps (unescape rows holding ``&``, drop zero-width characters, collapse whitespace, strip),
    each run only on the rows it can change (tested against it).

    Rows holding ``&`` are unescaped; rows holding a zero-width character or a non-ASCII space
    (one regex over the non-ASCII rows finds them) lose the first and have the second turned
    into a plain space; then every row takes the ASCII path: newlines (and, on the rows that
    have them, other control whitespace) to spaces, space runs to one, ends stripped. Rust's
    ``\s`` is exactly the ASCII whitespace plus :data:`_UNICODE_SPACE`, so this equals the
    Unicode regexes of :func:`normalize_expr` (which are slow on every row)."""
    s = s.cast(pl.String)
    s = _patch(s, s.str.contains("&", literal=True), lambda i: _unescape(s.gather(i)))
    non_ascii = (s.str.len_bytes() != s.str.len_chars()).fill_null(False)
    rare = _patch(_none(s.len()), non_ascii, lambda i: s.gather(i).str.contains(_RARE))
    s = _patch(
        s,
        rare,
        lambda i: s.gather(i).str.replace_all(_ZERO_WIDTH, "").str.replace_all(_WIDE_SPACE, " "),
    )
    out = s.str.replace_all("\n", " ", literal=True)
    ctrl = out.str.contains(_CONTROL_SPACE).fill_null(False)
    out = _patch(out, ctrl, lambda i: out.gather(i).str.replace_all(_CONTROL_SPACE, " "))
    out = out.str.replace_all(" {2,}", " ")
    edge = (out.str.starts_with(" ") | out.str.ends_with(" ")).fill_null(False)
    return _patch(out, edge, lambda i: out.gather(i).str.strip_chars(" ")).fill_null("")


def as_text(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Any scalar column as a string (binary that is not UTF-8 becomes null)."""
    return col if dtype == pl.String else col.cast(pl.String, strict=False)


def nullify(col: pl.Expr) -> pl.Expr:
    """A string column with stringified nulls ("", "None", "nan", ...) turned into real nulls
    (exact matches: values are not stripped)."""
    return pl.when(col.is_in(NULL_WORDS)).then(None).otherwise(col)


def to_int(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Integers from ints, floats or strings such as "12", "12.0", "1.2e1"; null if unparseable
    (a string with spaces around the number too: the real exports have none)."""
    if dtype.is_integer():
        return col.cast(pl.Int64)
    if dtype.is_float():
        return col.cast(pl.Int64, strict=False)
    return as_text(col, dtype).cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)


def to_bool(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Booleans from bools, numbers or strings ("True"/"False", "true", "1", "yes"...)."""
    if dtype == pl.Boolean:
        return col
    if dtype.is_numeric():
        return col != 0
    s = as_text(col, dtype)
    return pl.when(s.is_in(_TRUE)).then(True).when(s.is_in(_FALSE)).then(False).otherwise(None)


def to_utc(s: pl.Series) -> pl.Series:
    """UTC timestamps from a datetime column, unix seconds (int, float, or a string such as
    "1600000000", "1.6e9"; milliseconds when above 1e11) or ISO-like strings
    ("2022-12-13 23:59:45+00:00", "2022-12-13T23:59:45Z"; naive means UTC). Null if unparseable."""
    if isinstance(s.dtype, pl.Datetime):
        return (
            s.dt.replace_time_zone("UTC")
            if s.dtype.time_zone is None
            else s.dt.convert_time_zone("UTC")
        )
    if s.dtype == pl.Date:
        return s.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if s.dtype.is_numeric():
        secs = s.cast(pl.Float64)
    else:
        secs = s.cast(pl.String, strict=False).cast(pl.Float64, strict=False)
    secs = pl.select(pl.when(secs.abs() > 1e11).then(secs / 1000).otherwise(secs)).to_series()
    ok = secs.is_finite().fill_null(False) & (secs.abs() < 1e11).fill_null(False)
    out = pl.select(pl.when(ok).then(secs * 1e6).cast(pl.Int64).cast(_UTC)).to_series()
    if s.dtype.is_numeric():
        return out.alias(s.name)
    text = s.cast(pl.String, strict=False)

    def retry(i: pl.Series) -> pl.Series:
        """Rows the fast cast missed: stripped numbers, then the ISO-like formats in turn."""
        t = text.gather(i).str.strip_chars()
        f = t.cast(pl.Float64, strict=False)
        f = pl.select(pl.when(f.abs() > 1e11).then(f / 1000).otherwise(f)).to_series()
        got = pl.select(
            pl.when(f.is_finite() & (f.abs() < 1e11)).then(f * 1e6).cast(pl.Int64).cast(_UTC)
        ).to_series()
        iso = t.str.replace("T", " ", literal=True).str.replace(r"Z$", "+00:00")
        for fmt in _TIME_FORMATS:
            if got.null_count() == 0:
                break
            zone = {"time_zone": "UTC"} if fmt.endswith("z") else {}
            parsed = iso.str.to_datetime(fmt, strict=False, time_unit="us", **zone)  # type: ignore[arg-type]
            got = got.fill_null(parsed if zone else parsed.dt.replace_time_zone("UTC"))
        return got

    out = _patch(out, out.is_null() & text.is_not_null(), retry)
    return out.alias(s.name)


def bad_value(raw: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """True where a value is present in the input but did not parse."""
    present = ~raw.cast(pl.String, strict=False).is_in(NULL_WORDS)
    return raw.is_not_null() & present.fill_null(True) & parsed.is_null()


def encode_meta(fields: dict[str, pl.Expr]) -> pl.Expr:
    """The ``meta`` column: a flat JSON object, keys in the order given (nulls kept as null)."""
    return pl.struct([e.alias(k) for k, e in fields.items()]).struct.json_encode().alias("meta")


def as_records(
    typed: pl.DataFrame,
    source: str,
    text: pl.Expr,
    title: pl.Expr,
    meta: dict[str, pl.Expr],
) -> pl.DataFrame:
    """Typed rows (with ``record_id``, ``user_id``, ``created_at``) as rows of the record schema."""
    return typed.select(
        pl.lit(source).alias("source"),
        "record_id",
        "user_id",
        "created_at",
        text.alias("text"),
        title.alias("title"),
        encode_meta(meta),
    )


def _token(i: int, dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return f"(?:null|(?<f{i}>true|false))"
    if dtype.is_integer():
        return f"(?:null|(?<f{i}>-?[0-9]+))"
    return f'(?:null|"(?<f{i}>[^"\\\\]*)")'


def with_meta_fields(records: pl.LazyFrame, fields: dict[str, pl.DataType]) -> pl.LazyFrame:
    """``records`` plus the named ``meta`` fields as typed columns (named after the fields).

    Fast path: the meta a reader of this package writes starts with exactly these keys, in this
    order, each holding null or a plain value of its type (a string without escapes); one
    anchored regex reads them from the first bytes of the string. Any other row (another key
    order, an escaped string, meta from another reader) takes a JSON path lookup per field, so
    the result is the same either way.
    """
    meta = pl.col("meta")
    keys = ",".join(f'"{k}":{_token(i, t)}' for i, (k, t) in enumerate(fields.items()))
    records = records.with_columns(meta.str.extract_groups(f"^\\{{{keys}(?<ok>)[,}}]").alias("_m"))
    ok = pl.col("_m").struct.field("ok").is_not_null()
    out = []
    for i, (key, dtype) in enumerate(fields.items()):
        fast = pl.col("_m").struct.field(f"f{i}")
        slow = pl.when(~ok).then(meta).str.json_path_match(f"$.{key}")  # nulls: skipped
        if dtype == pl.Boolean:
            value = pl.when(ok).then(fast == "true").otherwise(to_bool(slow, pl.String()))
        elif dtype.is_integer():
            number = fast.cast(pl.Int64, strict=False)
            value = pl.when(ok).then(number).otherwise(to_int(slow, pl.String()))
        else:
            value = pl.when(ok).then(fast).otherwise(slow)
        out.append(value.alias(key))
    return records.with_columns(out).drop("_m")
