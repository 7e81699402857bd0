"""The ShareGPT row every task writes and the trainer reads, and its check.

A row is ``{"system": str?, "conversations": [{"from": "human"|"gpt", "value": str}, ...]}``;
turns alternate human/gpt, start with human and end with gpt. The tasks use the check to keep
only well-formed general data (gen-mix); training uses it to name a malformed row's line.
"""

from __future__ import annotations

from typing import Any

#: ShareGPT roles and the chat roles they are trained as.
ROLES = {"human": "user", "gpt": "assistant"}


def check_row(row: Any) -> str | None:
    """The problem with a parsed row, or None when it is well-formed."""
    if not isinstance(row, dict):
        return f"a row must be a JSON object, got {type(row).__name__}"
    system = row.get("system")
    if system is not None and not isinstance(system, str):
        return f"'system' must be a string, got {type(system).__name__}"
    turns = row.get("conversations")
    if turns is None:
        return "missing 'conversations'"
    if not isinstance(turns, list) or not turns:
        return "'conversations' must be a non-empty list of turns"
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            return f"turn {i}: must be an object with 'from' and 'value'"
        role, value = turn.get("from"), turn.get("value")
        if role not in ROLES:
            return f"turn {i}: 'from' must be 'human' or 'gpt', got {role!r}"
        expected = "human" if i % 2 == 0 else "gpt"
        if role != expected:
            return f"turn {i}: expected a {expected!r} turn (turns alternate human/gpt, starting with human), got {role!r}"
        if not isinstance(value, str) or not value.strip():
            return f"turn {i} ({role}): 'value' must be a non-empty string"
    if turns[-1]["from"] != "gpt":
        return "the last turn must be from 'gpt' (the reply to learn)"
    return None
