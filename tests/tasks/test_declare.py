"""A task declared with ``@task`` above its builder, and its simulator application from
``SimApp.of`` (input from the prompt's annotation, help from its docstring)."""

from __future__ import annotations

import pytest

from humanllm.simulate.apps import SimApp
from humanllm.simulate.schemas import SampleOptions
from humanllm.tasks.inputs import Genome
from humanllm.tasks.prompts import Prompt
from humanllm.tasks.registry import get_task, register_task, tasks, unregister_task
from humanllm.tasks.rows import BuildOptions, Built
from humanllm.tasks.task import declared, task


class EchoInput(SampleOptions):
    word: str = "hello"


def echo(inp: EchoInput) -> Prompt:
    """Echo: a word ->
    the same word."""
    return Prompt("Repeat the word.", inp.word)


APP = SimApp.of("echo", echo, max_tokens=8)


@task("echo_word", "Echo Word", group="t2", column=7, app=APP)
def build(g: Genome, o: BuildOptions) -> Built:
    return Built()


def test_declared_task_has_the_decorator_fields_and_registers() -> None:
    t = declared(build)
    assert (t.name, t.build, t.label, t.group, t.table_column, t.app) == (
        "echo_word",
        build,
        "Echo Word",
        "t2",
        7,
        APP,
    )
    assert t.questions is None and t.judge is None
    register_task(t)
    try:
        assert get_task("echo_word") is t
        assert tasks()[-1] is t
    finally:
        unregister_task("echo_word")


def test_app_of_takes_input_and_folded_help_from_the_prompt() -> None:
    assert APP.input is EchoInput
    assert APP.help == "Echo: a word -> the same word."
    assert APP.prompt(EchoInput(word="hi")).human == "hi"


def test_undeclared_builder_and_undocumented_prompt_are_errors() -> None:
    def other(g: Genome, o: BuildOptions) -> Built:
        return Built()

    def silent(inp: EchoInput) -> Prompt:
        return Prompt("", inp.word)

    with pytest.raises(KeyError, match="not declared with @task"):
        declared(other)
    with pytest.raises(ValueError, match="docstring"):
        SimApp.of("silent", silent, max_tokens=8)


def test_judge_columns_default_to_the_schema_fields_as_titles() -> None:
    labels = {t.name: dict(t.judge.labels) for t in tasks() if t.judge is not None}
    assert labels == {
        "profile_generation": {
            "faithfulness": "Faithfulness",
            "realism": "Realism",
            "coverage": "Coverage",
        },
        "social_qa": {
            "contextual_relevance": "Contextual Relevance",
            "logical_consistency": "Logical Consistency",
            "alignment": "Alignment",
        },
        "writing_imitation": {
            "style_match": "Style Match",
            "content_relevance": "Content Relevance",
            "content_similarity": "Content Similarity",
        },
    }
