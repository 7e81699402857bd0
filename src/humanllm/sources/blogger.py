"""Reader for the Blog Authorship Corpus: a folder of ``id.gender.age.industry.sign.xml`` files.

Each file holds ``<Blog>`` with repeated ``<date>DD,Month,YYYY</date>`` + ``<post>...</post>``
pairs. About 79% of the corpus files are not well-formed XML, so no XML parser is used: the
reader finds every ``<post>`` opening (exact, case-sensitive, as the corpus writes it) and turns
each into exactly one record. A post's text runs to its ``</post>``; when that is missing, to the
next ``<date>``, ``<post>`` or ``</Blog>``. Its date is the last ``<date>...</date>`` between the
previous post and this one.

Decoding: UTF-8, with every byte that is not part of valid UTF-8 read as cp1252 (the corpus has
607 such files; a per-byte fallback also keeps the valid UTF-8 of files that mix the two).
Text: ``urlLink`` link markers removed, then :func:`~humanllm.records.normalize_text` (entities
such as ``&nbsp;`` unescaped, whitespace and CRLF collapsed). An empty post stays a record with
empty text (the ``blogger.min_chars`` rule drops it, so it is visible in ``rejects/``).

Records: ``user_id`` = the id in the file name; ``record_id`` = ``<user_id>-<post index>``, the
index counting ``<post>`` openings in the file from 0; ``created_at`` = the date at 00:00 UTC,
null when there is no date or it cannot be parsed (the post is kept); ``title`` is null.

``meta`` keys:
    gender, age (int or null), industry (null when ``indUnk``), sign -- from the file name;
    file (file name), post_index, date_raw (text of the ``<date>`` tag or null),
    date_status ("ok" | "fuzzy": month matched approximately, see ``_ba_months`` | "missing" |
    "unparsed"), encoding ("utf-8" | "utf-8+cp1252": some bytes were read as cp1252),
    unclosed_post (true when ``</post>`` was missing), name_ok (false for a bad file name).

File names that are not ``id.gender.age.industry.sign.xml`` (5 dot-separated parts before
``.xml``) are still read: user id = the whole name without ``.xml``, demographics null,
``name_ok`` false. A file with no ``<post>`` gives one reject naming it (``parse.not_blogger_xml``
when it has no ``<Blog>`` either, else ``parse.no_posts``); an unreadable file gives
``parse.unreadable_file``. Only ``*.xml`` files are read from a folder.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from humanllm.filters.config import BloggerRules
from humanllm.sources import Chunk, expand_paths
from humanllm.sources._ba_io import Batch
from humanllm.sources._ba_months import month_number
from humanllm.sources.config import BloggerSource
from humanllm.sources.kind import source_kind

_POST = re.compile(r"<post>")
_DATE = re.compile(r"<date>([^<]*)</date>")
_BODY_END = re.compile(r"<date>|</Blog>")
_URLLINK = re.compile(r"\burlLink\b")
_DATE_PARTS = re.compile(r"\s*(\d{1,2})\s*[,.\s]\s*([^,\d]+?)\s*[,.\s]\s*(\d{2,4})\s*")
_EPOCH = date(1970, 1, 1)
_CP1252 = [bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)]
_FALLBACK = "humanllm-cp1252"


def _cp1252_bytes(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return "".join(_CP1252[b] for b in err.object[err.start : err.end]), err.end


codecs.register_error(_FALLBACK, _cp1252_bytes)


def decode(raw: bytes) -> tuple[str, str]:
    """UTF-8 where valid, cp1252 for the other bytes; returns ``(text, encoding label)``."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors=_FALLBACK), "utf-8+cp1252"


def parse_date(raw: str | None) -> tuple[int | None, str]:
    """``DD,Month,YYYY`` -> (microseconds since the epoch at 00:00 UTC, date_status)."""
    if raw is None:
        return None, "missing"
    m = _DATE_PARTS.fullmatch(raw)
    if not m:
        return None, "unparsed"
    found = month_number(m.group(2))
    if found is None:
        return None, "unparsed"
    year = int(m.group(3))
    year = year + 2000 if year < 100 else year
    try:
        day = date(year, found[0], int(m.group(1)))
    except ValueError:
        return None, "unparsed"
    return (day - _EPOCH).days * 86_400_000_000, "ok" if found[1] else "fuzzy"


def file_fields(path: Path) -> tuple[str, dict[str, Any]]:
    """``id.gender.age.industry.sign.xml`` -> (user id, demographic meta)."""
    stem = path.name[:-4] if path.name.lower().endswith(".xml") else path.name
    parts = stem.split(".")
    if len(parts) != 5 or not parts[0]:
        return stem, {"gender": None, "age": None, "industry": None, "sign": None, "name_ok": False}
    uid, gender, age, industry, sign = parts
    return uid, {
        "gender": gender,
        "age": int(age) if age.isdigit() else None,
        "industry": None if industry == "indUnk" else industry,
        "sign": sign,
        "name_ok": True,
    }


def posts(text: str) -> Iterator[tuple[str, str | None, bool]]:
    """Every ``<post>`` of a blog file as ``(raw body, raw date or None, closed)``."""
    opens = [(m.start(), m.end()) for m in _POST.finditer(text)]
    gap = text[: opens[0][0]] if opens else ""
    for k, (_, body_start) in enumerate(opens):
        stop = opens[k + 1][0] if k + 1 < len(opens) else len(text)
        dates = _DATE.findall(gap)
        region = text[body_start:stop]
        close = region.find("</post>")
        if close >= 0:
            body, gap, closed = region[:close], region[close + 7 :], True
        else:
            end = _BODY_END.search(region)
            cut = end.start() if end else len(region)
            body, gap, closed = region[:cut], region[cut:], False
        yield body, (dates[-1].strip() if dates else None), closed


def read_file(path: Path, batch: Batch) -> Iterator[Chunk]:
    """Add every post of one file to ``batch``; yield a chunk whenever the batch is full."""
    uid, demo = file_fields(path)
    try:
        text, encoding = decode(path.read_bytes())
    except OSError as e:
        batch.reject(path.name, "parse.unreadable_file", f"{path}: cannot read ({e.strerror or e})")
        return
    if "<post>" not in text:
        has_blog = "<Blog>" in text
        reason = "parse.no_posts" if has_blog else "parse.not_blogger_xml"
        what = (
            "has <Blog> but no <post>"
            if has_blog
            else "is not a Blogger XML file (no <Blog>, no <post>)"
        )
        batch.reject(path.name, reason, f"{path}: {what}")
        return
    for index, (body, date_raw, closed) in enumerate(posts(text)):
        micros, status = parse_date(date_raw)
        meta = {
            **demo,
            "file": path.name,
            "post_index": index,
            "date_raw": date_raw,
            "date_status": status,
            "encoding": encoding,
            "unclosed_post": not closed,
        }
        if "urlLink" in body:
            body = _URLLINK.sub(" ", body)
        batch.add(f"{uid}-{index}", uid, micros, body, None, meta)
        if batch.full():
            yield batch.take()


@source_kind(
    BloggerSource,
    platform="blog post",
    rules="humanllm.filters.blogger:flag",
    rules_config=BloggerRules,
)
def read(cfg: Any) -> Iterator[Chunk]:
    """Stream every post of every ``*.xml`` file under ``cfg.path`` (file, folder or glob)."""
    batch = Batch(cfg.source_name, cfg.batch_size)
    for path in expand_paths(cfg.path, ("*.xml",)):
        yield from read_file(path, batch)
    if not batch.empty():
        yield batch.take()
