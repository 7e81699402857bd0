"""Fit a reply's JSON schema to the request's token budget.

A schema says how long each string and array may be; ``max_tokens`` says how long the reply may
be. When the longest reply the schema allows cannot fit in ``max_tokens``, a model decoding
under the schema's grammar runs out of tokens mid-string and the reply is truncated JSON: lost.
:func:`fit_schema` shrinks the schema's upper bounds (``maxLength`` of strings, ``maxItems`` of
arrays, all by one factor, never below their lower bounds) until its longest reply fits, so a
grammar-constrained decoder closes every string in time. Only bounds the schema already has are
shrunk: an unbounded string (a rewritten post) is never cut short by this.

The schema sent to the backend is the fitted one; replies are still validated against the
stage's own pydantic model, so the fitted bounds only ever make a reply shorter.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

#: Characters one token carries at the least in English prose and JSON punctuation (measured
#: on SmolLM2's and Llama 3's tokenizers: 3.9-4.6 for prose; 3 leaves room for names and digits).
CHARS_PER_TOKEN = 3.0
#: Share of ``max_tokens`` the longest reply may take (the rest is slack for the estimate).
FILL = 0.9


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target: dict[str, Any] = defs.get(ref.rsplit("/", 1)[1], {})
        return target
    return node


def max_chars(node: Any, defs: dict[str, Any], scale: float = 1.0, _depth: int = 0) -> float:
    """Longest JSON text ``node`` allows (bounded parts only), with bounds scaled by ``scale``."""
    if not isinstance(node, dict) or _depth > 32:
        return 4.0
    node = _resolve(node, defs)
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list) and node[key]:
            return max(max_chars(n, defs, scale, _depth + 1) for n in node[key])
    if "const" in node:
        return float(len(json.dumps(node["const"])))
    if isinstance(node.get("enum"), list) and node["enum"]:
        return float(max(len(json.dumps(v)) for v in node["enum"]))
    kind = node.get("type")
    if kind == "string":
        hi = node.get("maxLength")
        return 2.0 + (_scaled(hi, node.get("minLength"), scale) if isinstance(hi, int) else 0)
    if kind == "array":
        hi = node.get("maxItems")
        lo = node.get("minItems")
        n = _scaled(hi, lo, scale) if isinstance(hi, int) else (lo if isinstance(lo, int) else 1)
        return 2.0 + n * (2.0 + max_chars(node.get("items", {}), defs, scale, _depth + 1))
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        return 2.0 + sum(
            len(k) + 4.0 + max_chars(v, defs, scale, _depth + 1) for k, v in props.items()
        )
    if kind == "boolean":
        return 5.0
    return 6.0  # numbers, null


def _scaled(hi: int, lo: Any, scale: float) -> int:
    floor = lo if isinstance(lo, int) else 0
    return max(floor, 1 if hi >= 1 else 0, min(hi, math.floor(hi * scale)))


def _apply(node: Any, scale: float) -> None:
    if isinstance(node, list):
        for n in node:
            _apply(n, scale)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and isinstance(node.get("maxLength"), int):
        node["maxLength"] = _scaled(node["maxLength"], node.get("minLength"), scale)
    if node.get("type") == "array" and isinstance(node.get("maxItems"), int):
        node["maxItems"] = _scaled(node["maxItems"], node.get("minItems"), scale)
    for v in node.values():
        _apply(v, scale)


def budget_chars(max_tokens: int) -> float:
    return max_tokens * CHARS_PER_TOKEN * FILL


def fit_schema(schema: dict[str, Any] | None, max_tokens: int) -> dict[str, Any] | None:
    """``schema`` with its upper bounds shrunk so its longest reply fits ``max_tokens``.

    Returns ``schema`` itself when it already fits; a copy otherwise. When even the lower bounds
    do not fit, the bounds are shrunk as far as they go (the reply may still be truncated).
    No schema (free text) is returned as it is."""
    if not isinstance(schema, dict):
        return schema
    defs = schema.get("$defs", {})
    budget = budget_chars(max_tokens)
    if max_chars(schema, defs) <= budget:
        return schema
    lo, hi = 0.0, 1.0
    for _ in range(30):  # bisect the largest factor that fits
        mid = (lo + hi) / 2
        if max_chars(schema, defs, mid) <= budget:
            lo = mid
        else:
            hi = mid
    out = copy.deepcopy(schema)
    _apply(out, lo)
    return out
