"""Benchmark of the streamed checkpoint merge (issue 5).

Builds two synthetic Llama-shaped bfloat16 checkpoints in 1 GB shards under a temporary folder in
/tmp (deleted afterwards), then measures in separate processes:

- the merge (1:1): wall time and peak RSS (VmHWM of the merging process), against the
  largest tensor (target: peak RSS < largest tensor + 1 GB);
- the disk limit: reading both inputs completely and writing one output of the same size with
  plain buffered I/O (target: merge time <= 2x that).

The inputs were just written, so both runs read them from the page cache (as far as memory
allows): the comparison is like for like. A few output tensors are checked against (a + b) / 2.

    python benchmarks/merge.py            # ~1.07B parameters, 2 x 2.1 GB inputs
    python benchmarks/merge.py --quick    # ~100M parameters, < 1 minute
    python benchmarks/merge.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from safetensors import safe_open
from safetensors.torch import save_file

GB = 10**9
# (vocab, hidden, intermediate, layers, input shard bytes)
FULL = (64000, 2048, 8192, 12, GB)
QUICK = (16000, 1024, 4096, 4, 50 * 10**6)


def layout(vocab: int, hidden: int, inter: int, layers: int) -> list[tuple[str, tuple[int, ...]]]:
    """Tensor names and shapes of a Llama-like causal LM (untied head)."""
    out: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", (hidden,)),
            (p + "self_attn.q_proj.weight", (hidden, hidden)),
            (p + "self_attn.k_proj.weight", (hidden, hidden)),
            (p + "self_attn.v_proj.weight", (hidden, hidden)),
            (p + "self_attn.o_proj.weight", (hidden, hidden)),
            (p + "post_attention_layernorm.weight", (hidden,)),
            (p + "mlp.gate_proj.weight", (inter, hidden)),
            (p + "mlp.up_proj.weight", (inter, hidden)),
            (p + "mlp.down_proj.weight", (hidden, inter)),
        ]
    return [*out, ("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]


def numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def build_checkpoint(folder: Path, dims: tuple[int, int, int, int, int], seed: int) -> None:
    vocab, hidden, inter, layers, shard_bytes = dims
    folder.mkdir(parents=True)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_hidden_layers": layers,
        "num_attention_heads": hidden // 64,
        "num_key_value_heads": hidden // 64,
        "tie_word_embeddings": False,
        "dtype": "bfloat16",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    gen = torch.Generator().manual_seed(seed)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, shape in layout(vocab, hidden, inter, layers):
        nbytes = numel(shape) * 2
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = torch.randn(shape, generator=gen).mul_(0.02).to(torch.bfloat16)
        size += nbytes
        if size >= shard_bytes:
            shards.append({})
            size = 0
    shards = [s for s in shards if s]
    weight_map: dict[str, str] = {}
    total = 0
    for i, shard in enumerate(shards, start=1):
        fname = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(folder / fname), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, fname))
        total += sum(t.numel() * 2 for t in shard.values())
        shard.clear()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")


def weights(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


# --- the measured processes -------------------------------------------------------------
def peak_rss() -> int:
    """High-water RSS of this process in bytes: VmHWM (reset by exec, unlike ru_maxrss, which
    keeps the forking parent's size), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker_merge(a: str, b: str, out: str) -> dict[str, Any]:
    from humanllm.train.merge import merge_checkpoints

    rss_before = peak_rss()
    t0 = time.perf_counter()
    merge_checkpoints([Path(a), Path(b)], [1.0, 1.0], Path(out))
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "peak_rss": peak_rss(),
        "rss_after_imports": rss_before,
    }


def worker_copy(a: str, b: str, out: str) -> dict[str, Any]:
    """The disk limit: read every input byte, write as many bytes as the output."""
    t0 = time.perf_counter()
    buf = bytearray(8 << 20)
    view = memoryview(buf)
    Path(out).mkdir()
    for fa, fb in zip(weights(Path(a)), weights(Path(b)), strict=True):
        with (
            fa.open("rb", buffering=0) as ra,
            fb.open("rb", buffering=0) as rb,
            (Path(out) / fa.name).open("wb") as w,
        ):
            while n := ra.readinto(view):
                w.write(view[:n])
                rb.readinto(view)  # read the second input as well (its bytes are not needed)
    return {
        "wall_s": time.perf_counter() - t0,
        "peak_rss": peak_rss(),
    }


def run_worker(kind: str, a: Path, b: Path, out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(a), str(b), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def check_output(a: Path, b: Path, out: Path, names: list[str]) -> bool:
    from humanllm.train.shards import tensor_index

    def load(folder: Path, name: str) -> torch.Tensor:
        with safe_open(str(tensor_index(folder)[name].file), framework="pt") as f:
            return f.get_slice(name)[:64]

    return all(
        torch.equal(load(out, n), ((load(a, n).float() + load(b, n).float()) / 2).bfloat16())
        for n in names
    )


def bench(quick: bool, tmp_root: str) -> dict[str, Any]:
    dims = QUICK if quick else FULL
    shapes = layout(*dims[:4])
    params = sum(numel(s) for _, s in shapes)
    size = params * 2
    free = shutil.disk_usage(tmp_root).free
    if free < 3 * size + 2 * GB:
        raise SystemExit(
            f"not enough free disk in {tmp_root}: need {(3 * size + 2 * GB) / GB:.1f} GB, have {free / GB:.1f} GB"
        )
    root = Path(tempfile.mkdtemp(prefix="humanllm-merge-bench-", dir=tmp_root))
    try:
        a, b = root / "a", root / "b"
        t0 = time.perf_counter()
        build_checkpoint(a, dims, 0)
        build_checkpoint(b, dims, 1)
        build_s = time.perf_counter() - t0
        disk = []
        for _ in range(2):
            disk.append(run_worker("copy", a, b, root / "copy"))
            shutil.rmtree(root / "copy")
        merged = run_worker("merge", a, b, root / "merged")
        ok = check_output(
            a,
            b,
            root / "merged",
            ["model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight", "lm_head.weight"],
        )
        out_files = weights(root / "merged")
        largest = max(numel(s) for _, s in shapes) * 2
        disk_s = min(d["wall_s"] for d in disk)
        return {
            "mode": "quick" if quick else "full",
            "parameters": params,
            "dtype": "bfloat16",
            "input_bytes_each": size,
            "input_shards": len(weights(a)),
            "output_shards": len(out_files),
            "largest_tensor_bytes": largest,
            "merge_s": round(merged["wall_s"], 3),
            "disk_limit_s": round(disk_s, 3),
            "time_ratio": round(merged["wall_s"] / disk_s, 3),
            "merge_gb_per_s": round(3 * size / merged["wall_s"] / GB, 3),
            "peak_rss_bytes": merged["peak_rss"],
            "rss_after_imports_bytes": merged["rss_after_imports"],
            "peak_rss_over_largest_tensor": round(merged["peak_rss"] / largest, 3),
            "rss_target_bytes": largest + GB,
            "rss_target_met": merged["peak_rss"] < largest + GB,
            "time_target_met": merged["wall_s"] <= 2 * disk_s,
            "output_correct": ok,
            "build_s": round(build_s, 1),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def table(r: dict[str, Any]) -> Table:
    mb = 1e6
    t = Table(
        title=f"merge benchmark ({r['mode']}: {r['parameters'] / 1e9:.2f}B params, {r['dtype']}, 2 inputs)"
    )
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    t.add_row(
        "input size (each)",
        f"{r['input_bytes_each'] / mb:,.0f} MB in {r['input_shards']} shards",
        "",
    )
    t.add_row("largest tensor", f"{r['largest_tensor_bytes'] / mb:,.0f} MB", "")
    t.add_row(
        "peak RSS of the merge",
        f"{r['peak_rss_bytes'] / mb:,.0f} MB",
        f"< {r['rss_target_bytes'] / mb:,.0f} MB",
    )
    t.add_row("  of which python + torch", f"{r['rss_after_imports_bytes'] / mb:,.0f} MB", "")
    t.add_row("merge time", f"{r['merge_s']:.2f} s ({r['merge_gb_per_s']:.2f} GB/s moved)", "")
    t.add_row("disk limit (read 2, write 1)", f"{r['disk_limit_s']:.2f} s", "")
    t.add_row("merge / disk limit", f"{r['time_ratio']:.2f}x", "<= 2x")
    t.add_row("output == (a + b) / 2 (sampled)", str(r["output_correct"]), "True")
    return t


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="~100M parameters (< 1 minute)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--tmp", default="/tmp", help="where the temporary checkpoints go (default /tmp)"
    )
    parser.add_argument(
        "--worker", nargs=4, metavar=("KIND", "A", "B", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        kind, a, b, out = args.worker
        result = worker_merge(a, b, out) if kind == "merge" else worker_copy(a, b, out)
        print(json.dumps(result))
        return
    r = bench(args.quick, args.tmp)
    if args.json:
        print(json.dumps(r))
    else:
        Console().print(table(r))
    if not (r["output_correct"] and r["rss_target_met"] and r["time_target_met"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
