"""vLLM engines as Ray actors (``engines: N, ray_address: ...``), on a real local two-node Ray
cluster (``ray.cluster_utils.Cluster``) with the fake engine of tests/llm/fake_vllm.py, pickled
by value into the actors (they have no GPU and no vLLM)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from humanllm.llm.backends import make_backend
from humanllm.llm.base import ChatRequest, Sampling
from humanllm.llm.config import RunnerConfig, VLLMBackendConfig
from humanllm.llm.vllm_backend import VLLMBackend
from tests.llm import fake_vllm
from tests.llm.fake_vllm import API, DieOnce, FakeFactory, FakeLLM, label_rows, token_logprob

ray = pytest.importorskip("ray")

from humanllm.llm import vllm_ray  # noqa: E402  (imports ray lazily; skip first)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    mb = 2**20
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 100 * mb},
    )
    c.add_node(num_cpus=1, object_store_memory=100 * mb)
    ray.init(address=c.address, namespace=vllm_ray.NAMESPACE, logging_level="WARNING")
    c.wait_for_nodes()
    ray.cloudpickle.register_pickle_by_value(fake_vllm)
    try:
        yield c
    finally:
        ray.cloudpickle.unregister_pickle_by_value(fake_vllm)
        ray.shutdown()
        c.shutdown()


@pytest.fixture
def released(cluster: Any) -> Iterator[None]:
    yield
    vllm_ray.release_engines()


def cfg(cluster: Any, model: str = "m", **kw: Any) -> VLLMBackendConfig:
    return VLLMBackendConfig(
        model=model,
        engines=2,
        ray_address=cluster.address,
        gpus_per_engine=0,  # the test cluster has no GPUs
        batch_window_s=0,
        **kw,
    )


def req(text: str, seed: int = 1) -> ChatRequest:
    return ChatRequest(
        messages=(("user", text),), sampling=Sampling(seed=seed, max_tokens=16), json_schema=None
    )


async def ask(b: VLLMBackend, texts: list[str]) -> list[str]:
    out = await asyncio.gather(*(b.chat(req(t, i)) for i, t in enumerate(texts)))
    return [r.text for r in out]


def test_batches_go_to_engine_actors_on_both_nodes(cluster: Any, released: None) -> None:
    c = cfg(cluster, max_batch=4)
    b = vllm_ray.ray_backend(c, engine_factory=FakeFactory(), api=API)
    texts = [f"q{i}" for i in range(16)]
    alone = c.model_copy(update={"engines": 1, "ray_address": None})
    here = VLLMBackend(alone, engine_factory=FakeFactory(), api=API)  # one engine, in-process
    assert asyncio.run(ask(b, texts)) == asyncio.run(ask(here, texts)) == texts
    stats = [e.stats() for e in b.engines]  # type: ignore[attr-defined]
    assert all(s["batches"] for s in stats)  # both engines answered batches
    assert sum(sum(s["batches"]) for s in stats) == 16 and max(b.batch_sizes) == 4
    assert len({s["node"] for s in stats}) == 2  # one engine (one CPU each) per node
    assert [s["builds"] for s in stats] == [1, 1]


def test_units_asking_for_the_same_engine_settings_share_the_actors(
    cluster: Any, released: None
) -> None:
    c = cfg(cluster, model="shared")
    first = vllm_ray.ray_backend(c, engine_factory=FakeFactory(), api=API)
    second = vllm_ray.ray_backend(c, engine_factory=FakeFactory(), api=API)  # another unit
    assert asyncio.run(ask(first, ["a", "b", "c"])) == ["a", "b", "c"]
    assert asyncio.run(ask(second, ["d", "e"])) == ["d", "e"]
    pids = {e.stats()["pid"] for e in first.engines + second.engines}  # type: ignore[attr-defined]
    assert len(pids) == 2  # two actors, not four
    other = vllm_ray.engine_names(c.model_copy(update={"tensor_parallel_size": 2}))
    assert set(other).isdisjoint(vllm_ray.engine_names(c))  # other settings: other engines


def up(engine: Any) -> dict[str, Any]:
    """An engine's stats once Ray has it running again (it may still be restarting)."""
    for _ in range(600):
        try:
            return dict(engine.stats())
        except ray.exceptions.ActorUnavailableError:
            time.sleep(0.1)
    raise AssertionError(f"{engine.name} did not come back")


def test_an_engine_whose_process_dies_is_restarted_and_nothing_is_lost(
    cluster: Any, released: None, tmp_path: Path
) -> None:
    marker = tmp_path / "died"
    c = cfg(cluster, model="crashy", max_batch=2)
    b = vllm_ray.ray_backend(c, engine_factory=FakeFactory(DieOnce(str(marker))), api=API)
    before = {e.stats()["pid"] for e in b.engines}  # type: ignore[attr-defined]
    rows = [{"id": f"r{i}", "text": f"item {i}"} for i in range(10)]
    rows.append({"id": "x", "text": "please die"})

    retry_soon = RunnerConfig(backoff_base_s=0.2, max_retries=6)
    out = label_rows(b, rows, tmp_path, Sampling(max_tokens=16), retry_soon)
    assert marker.exists()  # an engine process really died
    assert out.rejects == []
    assert {k: v.label for k, v in out.results.items()} == {r["id"]: r["text"] for r in rows}
    after = {up(e)["pid"] for e in b.engines}
    assert len(after - before) == 1  # Ray started that engine again


def test_option_scoring_on_an_engine_actor(cluster: Any, released: None) -> None:
    b = vllm_ray.ray_backend(cfg(cluster, model="scorer"), engine_factory=FakeFactory(), api=API)
    options = ["yes", "no"]
    scores = b.loglikelihoods([("user", "Q?")], options)
    assert scores == pytest.approx([sum(token_logprob(ord(ch)) for ch in o) for o in options])
    with pytest.raises(ValueError, match="no tokens"):
        b.loglikelihoods([("user", "Q?")], ["a", ""])


def test_release_kills_the_engines_of_the_run(cluster: Any) -> None:
    c = cfg(cluster, model="released", max_batch=1)  # two requests: one on each engine
    b = vllm_ray.ray_backend(c, engine_factory=FakeFactory(), api=API)
    assert asyncio.run(ask(b, ["a", "b"])) == ["a", "b"]
    assert vllm_ray.release_engines() == sorted(vllm_ray.engine_names(c))
    names = {a["name"] for a in ray.util.list_named_actors(all_namespaces=True)}
    assert names.isdisjoint(vllm_ray.engine_names(c))


def test_config_and_factory(cluster: Any) -> None:
    with pytest.raises(ValidationError, match="ray_address"):
        VLLMBackendConfig(model="m", engines=2)
    b = make_backend(cfg(cluster, model="made"))
    assert isinstance(b, VLLMBackend) and b.worker is None
    assert [e.name for e in b.engines] == vllm_ray.engine_names(cfg(cluster, model="made"))  # type: ignore[attr-defined]
    assert json.dumps(cfg(cluster).engine_kwargs())  # nothing of Ray goes to vllm.LLM
    assert "engines" not in cfg(cluster).engine_kwargs()
    assert isinstance(FakeFactory()(None), FakeLLM)
