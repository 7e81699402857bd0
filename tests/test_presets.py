"""Every preset config loads and validates; the paper preset carries the paper's numbers."""

from pathlib import Path

import pytest

from humanllm.config import load_config
from humanllm.llm.config import LlamaCppBackendConfig, OpenAIBackendConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_preset_validates(name: str) -> None:
    cfg = load_config(CONFIGS / name)
    assert cfg.sources
    for stage in ("clean", "label", "users", "scenarios", "social_qa", "qc"):
        assert getattr(cfg.curation, stage).backend in cfg.llm.backends


def test_paper_preset_has_the_papers_numbers() -> None:
    cfg = load_config(CONFIGS / "paper.yaml")
    f = cfg.filter
    assert (f.reddit.min_score, f.reddit.min_comments, f.reddit.min_chars) == (2, 2, 300)
    assert (f.twitter.min_chars, f.blogger.min_chars, f.amazon.min_chars) == (300, 300, 100)
    assert (f.amazon.min_item_records, f.amazon.min_user_records, f.min_records_per_user) == (
        3,
        8,
        2,
    )
    c = cfg.curation
    assert (c.qc.min_overall, c.qc.min_other) == (8, 7)
    assert c.label.keep_quality == ["high"] and c.label.drop_harmful
    assert (c.users.persona_max_words, c.users.profile_min_words, c.users.profile_max_words) == (
        99,
        100,
        400,
    )
    synth, judge = cfg.llm.backends[c.clean.backend], cfg.llm.backends[c.qc.backend]
    assert isinstance(synth, OpenAIBackendConfig) and "llama-3.3-70b" in synth.model.lower()
    assert isinstance(judge, OpenAIBackendConfig) and "qwen2.5-72b" in judge.model.lower()
    assert c.max_users_per_source is None and c.max_records_per_user is None


def test_quickstart_uses_the_embedded_model_and_bundled_data() -> None:
    cfg = load_config(CONFIGS / "quickstart.yaml")
    assert isinstance(cfg.llm.backends["embedded"], LlamaCppBackendConfig)
    assert cfg.llm.backends["embedded"].model_path is None
    for src in cfg.sources:
        assert Path(src.path).exists(), src.path


def test_paper_preset_has_seven_distractor_writers() -> None:
    """§4.1: the wrong answers of an 8-way question come from 7 different LLMs."""
    cfg = load_config(CONFIGS / "paper.yaml")
    specs = cfg.evaluate.distractor_models
    names = [d.backend for d in specs]
    assert all(isinstance(n, str) and n in cfg.llm.backends for n in names)
    models = [cfg.llm.backends[str(n)] for n in names]
    assert all(isinstance(m, OpenAIBackendConfig) for m in models)
    served = {m.model.lower() for m in models if isinstance(m, OpenAIBackendConfig)}
    paper = (
        "gpt-4o",
        "llama-3.1-8b",
        "llama-3.1-70b",
        "qwen2.5-7b",
        "qwen2.5-72b",
        "phi-4",
        "qwen3-8b",
    )
    assert len(served) == len(specs) == 7
    assert all(any(p in m for m in served) for p in paper)
    assert len({d.label for d in specs}) == 7
