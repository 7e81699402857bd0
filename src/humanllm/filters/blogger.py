"""The paper's Blogger rules (§2.1): drop posts shorter than 300 characters and posts without a
first-person pronoun.

Lengths are counted on the normalised text the readers write (entities unescaped, whitespace
collapsed; see :mod:`humanllm.records`).

First-person rule (a post is kept when any of these occurs as a whole word):
* ``I`` -- upper-case, standalone; contractions count because the apostrophe ends the word
  (``I'm``, ``I've``, ``I'd``, ``I'll``, also with a curly ’). Lower-case standalone ``i``
  counts too while ``lowercase_i`` is on (the default: informal blogs write "i feel ..."); its
  cost is that the non-English word "i" (Polish/Italian/Croatian "and"/"the") also counts,
  and the later LLM cleaning drops non-English text anyway. Only the word boundary decides:
  "iPod" does not count, but "i.e." and "I-95" do (known gaps).
* ``me``, ``my``, ``mine``, ``myself``, ``we``, ``our``, ``ours``, ``ourselves`` -- any case.
* ``us`` -- only as ``us`` or ``Us``: the all-capitals ``US`` is read as the country (so
  "the US economy" alone does not make a post first-person; "HELP US" is missed, a known gap).
Abbreviations without an apostrophe ("im", "ive") do not count.

Reasons: ``blogger.min_chars``, ``blogger.no_first_person`` (the first failing rule wins).
"""

from __future__ import annotations

import polars as pl

from humanllm.filters import first_reason
from humanllm.filters.config import FilterConfig

_ANY_CASE = r"(?i:me|my|mine|myself|we|our|ours|ourselves)"


def first_person_pattern(lowercase_i: bool = True) -> str:
    """The regex (Rust syntax) of a first-person pronoun as a whole word."""
    words = ["I", _ANY_CASE, "us", "Us"]
    if lowercase_i:
        words.append("i")
    return r"\b(?:" + "|".join(words) + r")\b"


def flag(records: pl.LazyFrame, rules: FilterConfig, source: object) -> pl.LazyFrame:
    cfg = rules.blogger
    text = pl.col("text").fill_null("")
    checks = [("blogger.min_chars", text.str.len_chars() < cfg.min_chars)]
    if cfg.require_first_person:
        pattern = first_person_pattern(cfg.lowercase_i)
        checks.append(("blogger.no_first_person", ~text.str.contains(pattern)))
    return records.with_columns(first_reason(checks))
