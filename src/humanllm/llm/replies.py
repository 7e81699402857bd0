"""Turning a reply into a validated object, or into a reject reason; deterministic seeds.

Reject reasons (the ``reason`` column of ``rejects/``):

- ``llm.invalid_json``  the reply is not JSON (refusal-like prose included);
- ``llm.schema``        JSON that does not fit the stage's pydantic model;
- ``llm.validate``      the stage's own ``validate`` check failed;
- ``llm.truncated``     the reply hit ``max_tokens`` (finish_reason ``length``);
- ``llm.refused``       the server's content filter stopped the reply;
- ``llm.permanent``     the server refused the request itself (4xx other than 429);
- ``llm.transient_exhausted``  429/5xx/time-outs persisted through every retry;
- ``llm.error``         the backend raised something unexpected (a bug; not cached).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

INVALID_JSON = "llm.invalid_json"
SCHEMA = "llm.schema"
VALIDATE = "llm.validate"
TRUNCATED = "llm.truncated"
REFUSED = "llm.refused"
PERMANENT = "llm.permanent"
TRANSIENT_EXHAUSTED = "llm.transient_exhausted"
ERROR = "llm.error"

T = TypeVar("T", bound=BaseModel)
Validator = Callable[[Any, Any], None]  # (parsed object, input item) -> None, raises when wrong


def derive_seed(item_id: str, stage: str, attempt: int, base: int | None = None) -> int:
    """A 31-bit seed from (base seed, stage, record id, attempt): reproducible, distinct per attempt."""
    blob = f"{base if base is not None else ''}\x1f{stage}\x1f{item_id}\x1f{attempt}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "big") & 0x7FFFFFFF


def _strip_code_fence(text: str) -> str:
    s = text.strip()
    if s.startswith("```") and s.endswith("```") and len(s) >= 6:
        body = s[3:-3]
        first_nl = body.find("\n")
        # drop an info string such as ```json
        if first_nl != -1 and body[:first_nl].strip().isalpha():
            body = body[first_nl + 1 :]
        return body.strip()
    return s


def _short(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(x) for x in e["loc"]) or "<root>"
        parts.append(f"{loc}: {e['msg']}")
    more = len(err.errors()) - 5
    return "; ".join(parts) + (f"; ... {more} more" if more > 0 else "")


def parse_reply(
    text: str, finish_reason: str | None, schema: type[T], validate: Validator | None, item: Any
) -> tuple[T | None, str | None, str | None]:
    """``(object, None, None)`` for a good reply, else ``(None, reason, error message)``."""
    if finish_reason == "length":
        return None, TRUNCATED, "the reply hit max_tokens (finish_reason=length)"
    if finish_reason == "content_filter":
        return None, REFUSED, "the server's content filter stopped the reply"
    body = _strip_code_fence(text)
    try:
        obj = schema.model_validate_json(body)
    except ValidationError as e:
        if any(err["type"] == "json_invalid" for err in e.errors()):
            return None, INVALID_JSON, f"not JSON: {e.errors()[0]['msg']}"
        return None, SCHEMA, _short(e)
    if validate is not None:
        try:
            validate(obj, item)
        # a failed check is a verdict on this reply, never a crash of the run
        except Exception as e:
            return None, VALIDATE, f"{type(e).__name__}: {e}"
    return obj, None, None


@dataclass(frozen=True)
class Reject:
    id: str
    reason: str  # one of the reasons above
    error: str
    raw_text: str = ""
    attempts: int = 0  # replies judged for this record (seeds tried)
