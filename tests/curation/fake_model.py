"""A scripted 'model' for the curation stages: valid JSON for each stage's schema, with trigger
words in a record that make it misbehave in a known way (unit tests only)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from humanllm.llm import session
from humanllm.llm.base import ChatRequest, ChatResponse
from humanllm.llm.scripted import ScriptedBackend

FENCE = re.compile(r"<<<BEGIN DATA (\w+) \((\w+)\)>>>\n(.*?)\n<<<END DATA \1>>>", re.S)


def fenced(req: ChatRequest) -> dict[str, str]:
    """The fenced fields of the request's messages: field name -> text."""
    out: dict[str, str] = {}
    for _, content in req.messages:
        for m in FENCE.finditer(content):
            out[m.group(2)] = m.group(3)
    return out


def words(n: int, word: str = "detail") -> str:
    return " ".join([word] * n)


def reply(req: ChatRequest) -> str | ChatResponse:
    data = fenced(req)
    text = " ".join(data.values())
    name = req.schema_name
    if name == "Cleaned":
        record = data["record"]
        if "GARBLE" in record:
            return "Sure! Here is the cleaned post: it was a lovely day"
        if "TRUNCATE" in record:
            return ChatResponse(text='{"text": "I went to the', finish_reason="length")
        if "REFUSE" in record:
            return "I'm sorry, but I can't help with rewriting this."
        return json.dumps({"text": record})  # a model that misses every piece of PII
    if name == "Labels":
        quality = "low" if "LOWQ" in text else "high"
        return json.dumps({"quality": quality, "harmful": "HARMFUL" in text, "rationale": "test"})
    if name == "UserPortrait":
        persona = words(110) if "LONGPERSONA" in text else "A careful nurse who loves hiking."
        return json.dumps(
            {
                "persona": persona,
                "profile": words(120),
                "stories": [
                    {"summary": "A hike.", "narrative": "They walked up a hill with friends."}
                ],
                "writing_style": "Plain and warm.",
            }
        )
    if name == "Scenario":
        return json.dumps(
            {
                "background": {"time": "a Sunday", "place": "a trail"},
                "characters": [{"name": "the author", "description": "a nurse"}],
                "plots": "The author hikes and meets an old friend.",
            }
        )
    if name == "SocialQA":
        # LEAKY: the action triplet's scenario gives its answer away (refining fixes it);
        # STUBBORN: it still does after refining (that triplet alone is a reject).
        leak = "LEAKY" in text or "STUBBORN" in text
        answer = "The author decides to hug the friend warmly."
        lead = "Stubbornly, the" if "STUBBORN" in text else "The"
        return json.dumps(
            {
                kind: {
                    "scenario": f"{lead} author reaches the summit and sees an old friend waving."
                    + (f" {answer}" if leak and kind == "action" else ""),
                    "question": f"What does the author do next? ({kind})",
                    "answer": answer,
                }
                for kind in ("action", "mental_state", "social_reasoning")
            }
        )
    if name == "RefinedScenario":
        scenario = data["scenario"]
        if scenario.startswith("Stubbornly"):  # a model that cannot let go of the answer
            return json.dumps({"scenario": scenario})
        return json.dumps({"scenario": "The author reaches the summit and sees an old friend."})
    if name.startswith("Judge_"):
        metrics = re.findall(r"^- (\w+): ", req.messages[0][1], re.M)
        mediocre = "MEDIOCRE" in text
        scores = {
            m: {"score": (6 if mediocre and m == "overall" else 9), "rationale": "ok"}
            for m in metrics
        }
        return json.dumps(scores)
    raise AssertionError(f"unexpected schema {name}")


def use_scripted(
    monkeypatch: pytest.MonkeyPatch, script: Any = reply, model_id: str = "scripted-curation"
) -> ScriptedBackend:
    """Every curation stage talks to one scripted backend with ``script`` (reopened per stage:
    each stage closes its backend when it ends)."""
    backend = ScriptedBackend(script, model_id=model_id)

    def reopen(cfg: object) -> ScriptedBackend:
        backend.closed = False
        return backend

    monkeypatch.setattr(session, "make_backend", reopen)
    return backend


def jsonl_source(path: Path | str, name: str = "forum") -> dict[str, Any]:
    """A JSONL source whose rows are ``{"id", "author", "body", "ts"}``."""
    return {
        "kind": "jsonl",
        "name": name,
        "path": str(path),
        "fields": {"record_id": "id", "user_id": "author", "text": "body", "created_at": "ts"},
        "min_chars": 0,
    }
