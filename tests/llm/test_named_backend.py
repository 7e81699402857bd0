"""One lookup of a backend by name, and the errors that name the asker and the known names."""

from __future__ import annotations

import pytest

from humanllm.llm.backends import UnknownBackendError, named_backend
from humanllm.llm.config import LLMConfig


def _llm() -> LLMConfig:
    return LLMConfig.model_validate(
        {"backends": {"judge": {"kind": "scripted"}, "writer": {"kind": "openai", "model": "m"}}}
    )


def test_a_defined_name_gives_its_config() -> None:
    llm = _llm()
    assert named_backend(llm.backends, "writer") is llm.backends["writer"]


def test_an_unknown_name_names_the_asker_and_the_defined_ones() -> None:
    with pytest.raises(UnknownBackendError) as e:
        named_backend(_llm().backends, "jduge", "stage 'refine'")
    assert e.value.known == ["judge", "writer"]
    assert str(e.value) == (
        "stage 'refine' uses backend 'jduge', which llm.backends does not define "
        "(defined: judge, writer)"
    )
    with pytest.raises(UnknownBackendError, match=r"\(defined: none\)"):
        named_backend({}, "x")
