"""Benchmark of log-likelihood multiple-choice scoring on the CPU (issue 6).

The embedded model (SmolLM2-135M-Instruct as an HF checkpoint, ``embedded_hf_checkpoint()``)
scores items of 8 options of ~80 tokens each after a ~300-token prompt (chat template included),
three ways:

- ``full``: each option's whole sequence (prompt + option) runs separately, logits computed only
  at the positions that score an option token — the reference;
- ``naive``: the same, as it is usually written: the model returns logits at every position of
  the sequence and the option's are picked from them (shown for context: the output head over
  the prompt's 300 positions is most of what separates it from ``full``);
- ``prefix``: the prompt runs once and its KV cache serves every option in turn
  (``TransformersBackend.loglikelihoods(..., batched=False)``);
- ``batched``: the prompt runs once, then all options in one right-padded batch, each row from a
  copy of the prompt's cache (``TransformersBackend.loglikelihoods``' default, what the
  evaluate stage uses).

Modes alternate item by item (the order rotating) so that load from other processes hits them
alike; items/s is items over the summed time of a mode. The scores of the three must agree.

``bound`` is the speed-up the arithmetic allows: multiply-adds of the transformer body per token
run through it, plus those of the output head (vocabulary x hidden, 28M of the model's 135M
parameters) per position whose logits are needed. Every mode needs the head at every option
token, so even with the prompt computed once the ratio stays near 3x for this shape.

    python benchmarks/mc_scoring.py            # 8 items
    python benchmarks/mc_scoring.py --quick    # 2 items, < 1 minute
    python benchmarks/mc_scoring.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from humanllm.llm.config import TransformersBackendConfig
from humanllm.llm.hf import TransformersBackend

_VOCAB = (
    "i we she he they my our the a to of and in on at for with about after before because but so "
    "when while then today yesterday morning night week home work family friend mother father "
    "sister brother neighbour dog garden kitchen car train city river park shop coffee dinner "
    "walked talked laughed cried thought felt wanted tried finished started remembered forgot "
    "happy tired worried proud angry calm quiet loud small long new old first last really very"
)
WORDS = _VOCAB.split()
PROMPT_TOKENS = 300
OPTION_TOKENS = 80
N_OPTIONS = 8
MODES = ("full", "naive", "prefix", "batched")


def text(tokenizer: Any, rng: random.Random, n_tokens: int) -> str:
    """Plain words until the text is ``n_tokens`` tokens long."""
    words: list[str] = []
    while len(tokenizer(" ".join(words), add_special_tokens=False)["input_ids"]) < n_tokens:
        words.append(rng.choice(WORDS))
    return " ".join(words)


def make_item(b: TransformersBackend, seed: int) -> tuple[list[tuple[str, str]], list[str]]:
    rng = random.Random(seed)
    system = "You simulate a specific real person and answer as they would."
    overhead = len(b._prompt_ids([("system", system), ("user", "")]))
    messages = [("system", system), ("user", text(b._tokenizer, rng, PROMPT_TOKENS - overhead))]
    options = [
        text(b._tokenizer, rng, OPTION_TOKENS + rng.randint(-8, 8)) for _ in range(N_OPTIONS)
    ]
    return messages, options


def score(
    b: TransformersBackend, mode: str, messages: list[tuple[str, str]], options: list[str]
) -> list[float]:
    if mode == "batched":
        return b.loglikelihoods(messages, options, batched=True)
    if mode == "naive":
        return naive_loglikelihoods(b, messages, options)
    return b.loglikelihoods(messages, options, prefix_reuse=mode == "prefix", batched=False)


def naive_loglikelihoods(
    b: TransformersBackend, messages: list[tuple[str, str]], options: list[str]
) -> list[float]:
    """Each prompt + option in full, logits at every position (no ``logits_to_keep``)."""
    prompt = b._prompt_ids(messages)
    scores = []
    with torch.inference_mode():
        for o in options:
            cont = list(b._tokenizer(o, add_special_tokens=False)["input_ids"])
            logits = b._model(input_ids=torch.tensor([prompt + cont])).logits[0].float()
            logp = torch.log_softmax(logits[len(prompt) - 1 : -1], dim=-1)
            scores.append(float(logp.gather(1, torch.tensor(cont)[:, None]).sum()))
    return scores


def bound(b: TransformersBackend, prompt: int, options: list[int]) -> dict[str, float]:
    """Speed-ups allowed by the multiply-adds of each mode (see the module docstring)."""
    head = b._model.get_output_embeddings().weight.numel()
    body = (
        sum(p.numel() for p in b._model.parameters())
        - b._model.get_input_embeddings().weight.numel()
    )
    full = sum((prompt + n) * body + (n + 1) * head for n in options)
    naive = sum((prompt + n) * (body + head) for n in options)
    prefix = prompt * body + head + sum(n * (body + head) for n in options)
    width = max(options) - 1
    batched = prompt * body + head + len(options) * width * (body + head)
    return {"full": 1.0, "naive": full / naive, "prefix": full / prefix, "batched": full / batched}


def run(n_items: int) -> dict[str, Any]:
    torch.manual_seed(0)
    b = TransformersBackend(TransformersBackendConfig(model_path="embedded", device="cpu"))
    b._load()
    items = [make_item(b, k) for k in range(n_items)]
    prompt_tokens = len(b._prompt_ids(items[0][0]))
    option_tokens = [
        len(b._tokenizer(o, add_special_tokens=False)["input_ids"]) for o in items[0][1]
    ]
    for mode in MODES:  # warm-up
        score(b, mode, *items[0])
    seconds = dict.fromkeys(MODES, 0.0)
    max_diff = 0.0
    for k, (messages, options) in enumerate(items):
        got = {}
        for mode in MODES[k % len(MODES) :] + MODES[: k % len(MODES)]:
            t0 = time.perf_counter()
            got[mode] = score(b, mode, messages, options)
            seconds[mode] += time.perf_counter() - t0
        for mode in ("naive", "prefix", "batched"):
            max_diff = max(
                max_diff, *(abs(x - y) for x, y in zip(got[mode], got["full"], strict=True))
            )
    rate = {m: n_items / seconds[m] for m in MODES}
    return {
        "items": n_items,
        "options": N_OPTIONS,
        "prompt_tokens": prompt_tokens,
        "option_tokens_mean": sum(option_tokens) / len(option_tokens),
        "torch_threads": torch.get_num_threads(),
        "seconds": seconds,
        "items_per_s": rate,
        "speedup_vs_full": {m: rate[m] / rate["full"] for m in MODES},
        "speedup_vs_naive": {m: rate[m] / rate["naive"] for m in MODES},
        "bound_vs_full": bound(b, prompt_tokens, option_tokens),
        "max_abs_diff_vs_full": max_diff,
        "target_speedup": 3.0,
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="2 items (< 1 minute)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--items", type=int, default=None, help="items to score (default 8; --quick 2)")
    args = p.parse_args()
    res = run(args.items or (2 if args.quick else 8))
    if args.json:
        print(json.dumps(res, indent=2))
        return
    t = Table(
        title=f"MC log-likelihood scoring, embedded model on CPU ({res['torch_threads']} threads): "
        f"{res['items']} items x {res['options']} options of ~{res['option_tokens_mean']:.0f} tokens "
        f"after a {res['prompt_tokens']}-token prompt"
    )
    for col in ("mode", "seconds", "items/s", "speed-up vs full", "bound", "vs naive"):
        t.add_column(col, justify="right")
    for m in MODES:
        t.add_row(
            m,
            f"{res['seconds'][m]:.2f}",
            f"{res['items_per_s'][m]:.3f}",
            f"{res['speedup_vs_full'][m]:.2f}x",
            f"{res['bound_vs_full'][m]:.2f}x",
            f"{res['speedup_vs_naive'][m]:.2f}x",
        )
    Console().print(t)
    Console().print(
        f"max |score difference| vs full: {res['max_abs_diff_vs_full']:.2e} (float32); target speed-up >= 3x"
    )


if __name__ == "__main__":
    main()
