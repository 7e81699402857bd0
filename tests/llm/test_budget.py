"""Fitting a reply schema to max_tokens: bounds shrink together, never below their minimums,
only when the longest reply would not fit, and never on unbounded strings."""

from __future__ import annotations

import pytest

from humanllm.curation.metrics import judge_schema
from humanllm.curation.schemas import Cleaned, Scenario, SocialQA, portrait_model
from humanllm.llm.budget import budget_chars, fit_schema, max_chars


@pytest.mark.parametrize(
    ("model", "max_tokens"),
    [
        (portrait_model(99, 30, 400), 500),
        (Scenario, 350),
        (SocialQA, 500),
        (judge_schema("user"), 400),
        (judge_schema("social_qa"), 300),
    ],
)
def test_the_longest_reply_fits_after_fitting(model, max_tokens: int) -> None:  # type: ignore[no-untyped-def]
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    assert max_chars(schema, defs) > budget_chars(max_tokens)  # the quick start's budgets
    fitted = fit_schema(schema, max_tokens)
    assert max_chars(fitted, fitted.get("$defs", {})) <= budget_chars(max_tokens)
    assert schema == model.model_json_schema()  # the input is not modified


def _walk(node, path=""):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}/{i}")


def test_lower_bounds_hold_and_upper_bounds_only_shrink() -> None:
    schema = portrait_model(99, 30, 400).model_json_schema()
    fitted = fit_schema(schema, 500)
    before = dict(_walk(schema))
    for path, node in _walk(fitted):
        if "maxLength" in node:
            assert node.get("minLength", 0) <= node["maxLength"] <= before[path]["maxLength"]
        if "maxItems" in node:
            assert max(1, node.get("minItems", 0)) <= node["maxItems"] <= before[path]["maxItems"]
    profile = fitted["properties"]["profile"]
    assert profile["minLength"] == 180  # 30 words x 6 characters: kept
    assert profile["maxLength"] < 3200


def test_a_schema_that_fits_is_returned_unchanged() -> None:
    schema = Scenario.model_json_schema()
    assert fit_schema(schema, 100_000) is schema


def test_unbounded_strings_are_never_bounded() -> None:
    schema = Cleaned.model_json_schema()
    fitted = fit_schema(schema, 16)
    assert "maxLength" not in fitted["properties"]["text"]  # a rewrite is never cut short


def test_the_engine_sends_the_fitted_schema() -> None:
    from humanllm.llm.base import Sampling
    from humanllm.llm.config import RunnerConfig
    from humanllm.llm.engine import Engine
    from humanllm.llm.scripted import ScriptedBackend

    def engine(cfg: RunnerConfig) -> Engine:  # type: ignore[type-arg]
        return Engine(
            render=lambda r: (("user", "x"),),
            schema=Scenario,
            backend=ScriptedBackend(lambda r: "{}"),
            cache=None,  # type: ignore[arg-type]  # not used to build the schema
            stage="t",
            prompt_version="1",
            sampling=Sampling(max_tokens=200),
            runner_cfg=cfg,
        )

    sent = engine(RunnerConfig()).json_schema
    assert max_chars(sent, sent["$defs"]) <= budget_chars(200)
    raw = engine(RunnerConfig(fit_schema_to_max_tokens=False)).json_schema
    assert raw == Scenario.model_json_schema()


def test_free_text_requests_have_no_schema_to_fit() -> None:
    assert fit_schema(None, 16) is None
