"""The prompts of the six training tasks (§3.1), the single source of truth for training data, the
evaluation and the simulator.

Each function takes plain inputs (persona, profile, scenario, question, texts ...) and returns a
:class:`Prompt` ``(system, human)``; the reply the model learns is the ``gpt`` turn. Nothing here
knows about genome tables: the builders in :mod:`humanllm.tasks.builders` pick the inputs, and the
simulator calls the same functions with inputs a person supplies. Changing any text here changes
``PROMPT_VERSION`` (a digest of this file), which re-runs the ``tasks`` stage.

Replies (the ``gpt`` turn) by task:

- profile_generation: the profile (100-400 words, third person);
- scenario_generation: the plots (a short narrative);
- social_qa: the answer;
- writing_imitation / personalized_commenting: the text itself, nothing around it;
- item_selection: ``"<letter>. <title>"`` of the chosen candidate (see :func:`item_choice`);
- text_completion (the ``raw`` ablation): the rest of the text.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

PROMPT_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]

#: Candidate labels for item selection: A..Z, so at most 26 candidates.
LETTERS = string.ascii_uppercase


class Prompt(NamedTuple):
    system: str
    human: str


class Review(NamedTuple):
    """One earlier review or comment by the user (or one earlier purchase, with ``text`` empty)."""

    item: str  # title of the item (or the post) it is about
    text: str = ""
    rating: float | None = None  # stars out of 5, when known


def _about(persona: str | None, profile: str | None) -> str:
    parts = []
    if persona and persona.strip():
        parts.append(f"Persona of the person:\n{persona.strip()}")
    if profile and profile.strip():
        parts.append(f"Profile of the person:\n{profile.strip()}")
    if not parts:
        raise ValueError("give a persona or a profile of the person")
    return "\n\n".join(parts)


def _stars(rating: float | None) -> str:
    if rating is None:
        return ""
    value = int(rating) if float(rating).is_integer() else rating
    return f" (rated {value}/5)"


def _numbered(texts: Sequence[str]) -> str:
    return "\n\n".join(f"[{i}] {t.strip()}" for i, t in enumerate(texts, start=1))


# --- T1: the person and the context -------------------------------------------------------------


def profile_generation(persona: str) -> Prompt:
    """Persona (< 100 words) -> detailed profile."""
    system = (
        "You understand people. From a brief persona of a real person you infer their detailed "
        "profile: background, demographics where they can be inferred, personality, values, "
        "interests, emotional tone and the experiences that shaped their life."
    )
    human = (
        f"Persona:\n{persona.strip()}\n\n"
        "Write this person's detailed profile in 100 to 400 words, in the third person, as natural "
        "paragraphs."
    )
    return Prompt(system, human)


def scenario_generation(characters: Sequence[tuple[str, str]], time: str, place: str) -> Prompt:
    """Characters ``(name, description)`` + background (time, place) -> the plots."""
    cast = "\n".join(
        f"- {name.strip()}: {desc.strip()}" if desc and desc.strip() else f"- {name.strip()}"
        for name, desc in characters
    )
    system = (
        "You understand how real social life unfolds. Given the people involved in a real-life "
        "scenario and its background, you reconstruct the complete story: what happened, in "
        "order, and how each person acted, thought and felt."
    )
    human = (
        f"Time: {time.strip() or 'unknown'}\nPlace: {place.strip() or 'unknown'}\n\n"
        f"Characters:\n{cast or '- (not given)'}\n\n"
        "Write the plot of this scenario as a short narrative."
    )
    return Prompt(system, human)


def social_qa(
    scenario: str, question: str, *, persona: str | None = None, profile: str | None = None
) -> Prompt:
    """Persona or profile (or both) + scenario + question -> the person's answer."""
    system = (
        "You simulate a specific real person. Given who they are and a situation they are in, you "
        "answer questions about what they do, think and feel, and why, as that person really would."
    )
    human = f"{_about(persona, profile)}\n\nScenario:\n{scenario.strip()}\n\nQuestion: {question.strip()}"
    return Prompt(system, human)


# --- T2: writing, commenting, choosing ----------------------------------------------------------


def writing_imitation(
    topic: str,
    kind: str,
    *,
    history: Sequence[str] = (),
    writing_style: str | None = None,
) -> Prompt:
    """Earlier texts of the user or their writing-style description (or both) + a topic -> a new
    text of ``kind`` (e.g. "Reddit post", "tweet", "blog post", "product review")."""
    parts = []
    if history:
        parts.append(f"Texts this person wrote earlier, oldest first:\n\n{_numbered(history)}")
    if writing_style and writing_style.strip():
        parts.append(f"How this person writes:\n{writing_style.strip()}")
    if not parts:
        raise ValueError("give earlier texts or a writing-style description of the person")
    system = (
        "You write exactly like a specific real person: their vocabulary, sentence length, tone, "
        "humour, punctuation and recurring phrases. You write new texts in their voice."
    )
    human = (
        "\n\n".join(parts)
        + f"\n\nWrite a new {kind} by this person on this topic: {topic.strip()}\n"
        f"Reply with the {kind} only."
    )
    return Prompt(system, human)


def personalized_commenting(
    target: str, history: Sequence[Review], *, kind: Literal["review", "comment"] = "review"
) -> Prompt:
    """The user's earlier reviews (comments) + a new item's description (a new post) -> the review
    (comment) the user writes on it."""
    if not history:
        raise ValueError("give at least one earlier review or comment of the person")
    thing = "item" if kind == "review" else "post"
    earlier = _numbered(
        [f"On: {r.item.strip()}{_stars(r.rating)}\n{r.text.strip()}" for r in history]
    )
    system = (
        f"You simulate a specific real person writing {kind}s online. From the {kind}s they wrote "
        f"before you know their tastes, standards and voice; you write the {kind} they would write "
        f"on a new {thing}."
    )
    human = (
        f"{kind.capitalize()}s this person wrote earlier, oldest first:\n\n{earlier}\n\n"
        f"The new {thing}:\n{target.strip()}\n\n"
        f"Write the {kind} this person would write on the new {thing}, in their voice. Reply with the "
        f"{kind} only."
    )
    return Prompt(system, human)


def review_topic(item: str, rating: float | None = None) -> str:
    """The topic of a review for :func:`writing_imitation`: the item, and the stars given."""
    return f'a review of the item "{" ".join(item.split())}"{_stars(rating)}'


def item_selection(
    candidates: Sequence[str],
    history: Sequence[Review],
    *,
    persona: str | None = None,
    profile: str | None = None,
) -> Prompt:
    """Purchase history + persona or profile + candidate titles (labelled A, B, ...) -> the choice,
    answered as :func:`item_choice` writes it."""
    if not 2 <= len(candidates) <= len(LETTERS):
        raise ValueError(f"give 2 to {len(LETTERS)} candidates, got {len(candidates)}")
    bought = "\n".join(f"- {r.item.strip()}{_stars(r.rating)}" for r in history) or "- (none)"
    options = "\n".join(item_choice(i, c) for i, c in enumerate(candidates))
    system = (
        "You simulate a specific real shopper. From who they are and what they bought before, you "
        "pick the item they would choose next."
    )
    human = (
        f"{_about(persona, profile)}\n\nItems this person bought before, oldest first:\n{bought}\n\n"
        f"Candidates:\n{options}\n\n"
        "Which candidate would this person choose? Reply with its letter and title, e.g. "
        "'B. <title>'."
    )
    return Prompt(system, human)


def item_choice(index: int, title: str) -> str:
    """The label of candidate ``index`` (0-based) as shown and as answered: ``"C. <title>"``."""
    return f"{LETTERS[index]}. {' '.join(title.split())}"


_CHOICE = re.compile(r"^\W*([A-Z])(?:[.):]|\s*$)")


def parse_choice(reply: str, n_candidates: int) -> int | None:
    """The 0-based candidate a reply names by its leading letter, or None."""
    m = _CHOICE.match(reply.strip())
    if not m:
        return None
    index = LETTERS.index(m.group(1))
    return index if index < n_candidates else None


# --- the raw ablation (§4.4, Q1) ----------------------------------------------------------------


def text_completion(prefix: str, kind: str) -> Prompt:
    """The first part of a raw text -> the rest of it (the ``raw`` variant)."""
    system = "You continue texts written by real people, in their own words."
    human = (
        f"Here is the beginning of a {kind}. Continue it from where it stops; reply with the "
        f"continuation only.\n\n{prefix}"
    )
    return Prompt(system, human)
