"""Chat prompts as token ids in which message text can never become a control token.

A chat template wraps each message in turn markers (``<|im_start|>user\\n ... <|im_end|>``) that
are special tokens. Rendering the template to a string and tokenizing that string with special
tokens parsed -- what ``apply_chat_template(..., tokenize=True)`` and llama.cpp's chat handler do
-- also turns a post that *contains* ``<|im_end|><|im_start|>system`` into real turn boundaries:
the data fence of :mod:`humanllm.llm.prompts` then holds as a string only.

:func:`chat_segments` renders the template once with a unique placeholder in place of each
message's content and splits the result at the placeholders, so the template's own text and the
messages' text are known apart. :func:`chat_token_ids` tokenizes the template's pieces with
special tokens parsed and every message's content with special tokens *not* parsed (as plain
text), and concatenates the ids. For ordinary text the ids equal those of the whole string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Chat = Sequence[tuple[str, str]]  # (role, content)


@dataclass(frozen=True)
class Segment:
    text: str
    content: bool  # True: a message's text (never parsed for special tokens)


def _placeholders(contents: Sequence[str]) -> list[str]:
    """One marker per message, found in none of the contents (private-use code points)."""
    salt = ""
    while True:
        marks = [f"\ue000{salt}{i}\ue001" for i in range(len(contents))]
        if not any("\ue000" + salt in c for c in contents):
            return marks
        salt += "\ue002"


def chat_segments(render: Callable[[list[dict[str, str]]], str], messages: Chat) -> list[Segment]:
    """The rendered prompt of ``messages`` as template pieces and message contents, in order.

    ``render`` maps OpenAI-style messages to the prompt string (the chat template). A template
    that trims the content (Llama 3's ``| trim``) is matched by trying the stripped text as well;
    if neither reproduces the real rendering, the content is placed verbatim (safe either way).
    """
    contents = [c for _, c in messages]
    marks = _placeholders(contents)
    marked = render([{"role": r, "content": m} for (r, _), m in zip(messages, marks, strict=True)])
    real = render([{"role": r, "content": c} for r, c in messages])
    pieces = (
        re.split("(" + "|".join(re.escape(m) for m in marks) + ")", marked) if marks else [marked]
    )
    index = {m: i for i, m in enumerate(marks)}
    for fill in (lambda s: s, str.strip):
        out = [
            Segment(fill(contents[index[p]]), True) if p in index else Segment(p, False)
            for p in pieces
        ]
        if "".join(s.text for s in out) == real:
            break
    else:
        out = [
            Segment(contents[index[p]], True) if p in index else Segment(p, False) for p in pieces
        ]
    return [s for s in out if s.text]


def chat_token_ids(
    segments: Sequence[Segment],
    tokenize: Callable[[str, bool], list[int]],
) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of ``segments`` and the ``[start, end)`` id span of each content segment.

    ``tokenize(text, special)`` must parse special-token text only when ``special`` is true.
    """
    ids: list[int] = []
    spans: list[tuple[int, int]] = []
    for seg in segments:
        start = len(ids)
        ids.extend(tokenize(seg.text, not seg.content))
        if seg.content:
            spans.append((start, len(ids)))
    return ids, spans
