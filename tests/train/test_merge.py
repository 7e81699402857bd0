from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from humanllm.llm.fingerprint import checkpoint_fingerprint
from humanllm.train import merge as merge_mod
from humanllm.train.merge import MergeError, merge_checkpoints
from humanllm.train.shards import INDEX, weight_files
from tests.train.tiny import build_model


def _state(folder: Path) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for f in weight_files(folder):
        out.update(load_file(str(f)))
    return out


def test_merge_with_itself_is_identity(tiny_model: Path, tmp_path: Path) -> None:
    merged = merge_checkpoints([tiny_model, tiny_model], None, tmp_path / "m")
    a, m = _state(tiny_model), _state(merged)
    assert a.keys() == m.keys()
    assert all(torch.equal(a[k], m[k]) and m[k].dtype == a[k].dtype for k in a)


def test_one_to_one_is_the_mean_exactly(
    tiny_model: Path, tiny_model_b: Path, tmp_path: Path
) -> None:
    assert (tiny_model_b / INDEX).is_file() and len(
        weight_files(tiny_model_b)
    ) > 2  # a multi-shard input
    merged = merge_checkpoints([tiny_model, tiny_model_b], [1.0, 1.0], tmp_path / "m")
    a, b, m = _state(tiny_model), _state(tiny_model_b), _state(merged)
    for k in a:
        assert torch.equal(m[k], (a[k] + b[k]) / 2), k
    record = json.loads((merged / "merge.json").read_text(encoding="utf-8"))
    assert [i["path"] for i in record["inputs"]] == [
        str(tiny_model.resolve()),
        str(tiny_model_b.resolve()),
    ]
    assert [i["normalised_weight"] for i in record["inputs"]] == [0.5, 0.5]
    # the same fingerprint as the backend's model_id names the checkpoint by
    assert [i["fingerprint"] for i in record["inputs"]] == [
        checkpoint_fingerprint(tiny_model),
        checkpoint_fingerprint(tiny_model_b),
    ]
    assert record["inputs"][0]["fingerprint"] != record["inputs"][1]["fingerprint"]
    # config, tokenizer and chat template come along; training leftovers do not
    for name in (
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
    ):
        assert (merged / name).is_file(), name


def test_weights_are_normalised(
    tiny_model: Path, tiny_model_b: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(merge_mod, "CHUNK_ELEMENTS", 1000)  # tensors span several slices
    merged = merge_checkpoints([tiny_model, tiny_model_b], [1.0, 3.0], tmp_path / "m")
    a, b, m = _state(tiny_model), _state(tiny_model_b), _state(merged)
    for k in a:
        torch.testing.assert_close(m[k], 0.25 * a[k] + 0.75 * b[k])
    same = merge_checkpoints([tiny_model, tiny_model_b], [0.5, 1.5], tmp_path / "m2")
    assert all(torch.equal(v, _state(same)[k]) for k, v in m.items())


def test_sharded_output_loads_and_generates(
    tiny_model: Path, tiny_model_b: Path, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    merged = merge_checkpoints(
        [tiny_model_b, tiny_model],
        None,
        tmp_path / "m",
        max_shard_bytes=120_000,
        on_progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1][0] == seen[-1][1] and len(seen) == len(_state(tiny_model))
    files = weight_files(merged)
    assert len(files) > 2 and all(f.stat().st_size <= 120_000 + 4096 for f in files)
    index = json.loads((merged / INDEX).read_text(encoding="utf-8"))
    assert set(index["weight_map"]) == set(_state(tiny_model))
    for f in files:  # the reference reader accepts every file
        with safe_open(str(f), framework="pt") as fh:
            assert fh.metadata() == {"format": "pt"}
    model = AutoModelForCausalLM.from_pretrained(str(merged))
    tok = AutoTokenizer.from_pretrained(str(merged))
    enc: Any = tok.apply_chat_template(
        [{"role": "user", "content": "What would the user write?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 4
    a, b = _state(tiny_model), _state(tiny_model_b)
    sd = model.state_dict()
    assert torch.equal(
        sd["model.norm.weight"], (a["model.norm.weight"] + b["model.norm.weight"]) / 2
    )


def test_bfloat16_and_tied_embeddings(tiny_tokenizer: Path, tmp_path: Path) -> None:
    a = build_model(tmp_path / "a", tiny_tokenizer, seed=0, tie=True, dtype="bfloat16")
    b = build_model(tmp_path / "b", tiny_tokenizer, seed=1, tie=True, dtype="bfloat16")
    sa, sb = _state(a), _state(b)
    assert "lm_head.weight" not in sa and sa["model.embed_tokens.weight"].dtype == torch.bfloat16
    merged = merge_checkpoints([a, b], None, tmp_path / "m")
    sm = _state(merged)
    assert "lm_head.weight" not in sm and all(v.dtype == sa[k].dtype for k, v in sm.items())
    expected = (
        (
            sa["model.layers.0.mlp.up_proj.weight"].float()
            + sb["model.layers.0.mlp.up_proj.weight"].float()
        )
        / 2
    ).bfloat16()
    assert torch.equal(sm["model.layers.0.mlp.up_proj.weight"], expected)
    assert all(
        torch.equal(sa[k], v)
        for k, v in _state(merge_checkpoints([a, a], None, tmp_path / "aa")).items()
    )
    # an input that stores the tied head anyway still merges (the head is re-tied on load)
    extra = dict(sb, **{"lm_head.weight": sb["model.embed_tokens.weight"].clone()})
    save_file(extra, str(b / "model.safetensors"), metadata={"format": "pt"})
    merged = merge_checkpoints([a, b], None, tmp_path / "m3")
    model = AutoModelForCausalLM.from_pretrained(str(merged))
    assert torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)


def test_integer_and_float64_tensors(tmp_path: Path) -> None:
    def ckpt(name: str, ints: torch.Tensor, f64: torch.Tensor) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(
            json.dumps({"model_type": "toy", "architectures": ["Toy"]}), encoding="utf-8"
        )
        save_file(
            {"steps": ints, "w64": f64, "scalar": f64.sum().reshape(())},
            str(folder / "model.safetensors"),
        )
        return folder

    x, y = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    a = ckpt("a", torch.arange(4), x)
    b = ckpt("b", torch.arange(4), y)
    m = _state(merge_checkpoints([a, b], None, tmp_path / "m"))
    assert torch.equal(m["steps"], torch.arange(4)) and m["w64"].dtype == torch.float64
    torch.testing.assert_close(m["w64"], (x + y) / 2, rtol=0, atol=1e-15)
    assert m["scalar"].shape == ()
    c = ckpt("c", torch.arange(1, 5), y)
    with pytest.raises(MergeError, match="integer tensors cannot be averaged"):
        merge_checkpoints([a, c], None, tmp_path / "bad")
    assert not (tmp_path / "bad").exists() and not list(
        tmp_path.glob(".bad.tmp-*")
    )  # nothing half-written


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_mismatched_checkpoints_are_refused(
    tiny_model: Path, tiny_tokenizer: Path, tmp_path: Path
) -> None:
    arch = _copy(tiny_model, tmp_path / "arch")
    _edit_json(arch / "config.json", architectures=["MistralForCausalLM"], model_type="mistral")
    with pytest.raises(MergeError, match=r"different architecture .*architectures"):
        merge_checkpoints([tiny_model, arch], None, tmp_path / "m")

    wider = build_model(tmp_path / "wider", tiny_tokenizer, intermediate_size=96)
    with pytest.raises(MergeError, match="intermediate_size: 128 vs 96"):
        merge_checkpoints([tiny_model, wider], None, tmp_path / "m")

    shape = _copy(tiny_model, tmp_path / "shape")  # same config, one tensor of another shape
    state = _state(shape)
    state["model.norm.weight"] = torch.ones(32)
    save_file(state, str(shape / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(MergeError, match=r"'model.norm.weight' has shape \[64\] vs \[32\]"):
        merge_checkpoints([tiny_model, shape], None, tmp_path / "m")

    names = _copy(tiny_model, tmp_path / "names")
    state = _state(names)
    del state["model.norm.weight"]
    save_file(state, str(names / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(MergeError, match=r"different tensor names .*model\.norm\.weight"):
        merge_checkpoints([tiny_model, names], None, tmp_path / "m")

    tok = _copy(tiny_model, tmp_path / "tok")
    data = json.loads((tok / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    first, second = sorted(vocab, key=vocab.get)[10:12]
    vocab[first], vocab[second] = vocab[second], vocab[first]  # same size, other ids
    (tok / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MergeError, match="different tokenizers"):
        merge_checkpoints([tiny_model, tok], None, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_missing_weights_and_bad_arguments(tiny_model: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(tiny_model / "config.json", empty / "config.json")
    with pytest.raises(MergeError, match=rf"{empty}: no model weights"):
        merge_checkpoints([tiny_model, empty], None, tmp_path / "m")
    (empty / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(MergeError, match=r"found pytorch_model\.bin"):
        merge_checkpoints([tiny_model, empty], None, tmp_path / "m")
    with pytest.raises(MergeError, match="no such checkpoint folder"):
        merge_checkpoints([tiny_model, tmp_path / "nowhere"], None, tmp_path / "m")
    truncated = _copy(tiny_model, tmp_path / "truncated")
    data = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(MergeError, match="truncated"):
        merge_checkpoints([tiny_model, truncated], None, tmp_path / "m")
    with pytest.raises(MergeError, match="one weight per checkpoint"):
        merge_checkpoints([tiny_model, tiny_model], [1.0], tmp_path / "m")
    with pytest.raises(MergeError, match="at least two"):
        merge_checkpoints([tiny_model], None, tmp_path / "m")
    out = tmp_path / "taken"
    out.mkdir()
    (out / "x").write_text("keep", encoding="utf-8")
    with pytest.raises(MergeError, match="not empty"):
        merge_checkpoints([tiny_model, tiny_model], None, out)
    assert (
        merge_checkpoints([tiny_model, tiny_model], None, out, overwrite=True) == out
        and not (out / "x").exists()
    )
