"""The ``transformers`` backend: an HF-format checkpoint in-process, on the CPU or a GPU.

It chats (chat template from the checkpoint's tokenizer; temperature / top-p sampling seeded with
a private ``torch.Generator`` per request) and scores options by log-likelihood (the
:class:`~humanllm.llm.base.Scorer` protocol), which the multiple-choice evaluation uses.
``model_path: embedded`` means the embedded SmolLM2 model, de-quantized once into an HF
checkpoint by :func:`humanllm.llm.embedded.embedded_hf_checkpoint`.

Prompts: every message's text is tokenized as plain text and only the chat template's own pieces
with special tokens parsed (:mod:`humanllm.llm.chat_tokens`), so a post containing
``<|im_end|><|im_start|>system`` cannot open a turn of its own.

Generation is batched (:mod:`humanllm.llm.hf_batch`): concurrent requests -- the runner sends up
to ``max_concurrency`` at once -- are decoded together, up to ``max_batch`` rows per forward
pass, instead of one sequence at a time. A request with a JSON schema is decoded under a grammar
built from it (:mod:`humanllm.llm.constrained`, xgrammar), so the reply is JSON of the schema's
shape; the schema is also described in the system message, which helps a small model fill it.
Batching changes the shapes of the matrix products, so a reply can differ from the same
request decoded alone by float rounding (greedy replies of the embedded model in float32 are
identical in the tests); a seed still reproduces a reply within the same batch make-up.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import random
import threading
from pathlib import Path
from typing import Any

from humanllm.llm.base import ChatRequest, ChatResponse, PermanentError
from humanllm.llm.chat_tokens import Chat, chat_segments, chat_token_ids
from humanllm.llm.config import TransformersBackendConfig
from humanllm.llm.constrained import SchemaGuides
from humanllm.llm.constrained import available as constrained_available
from humanllm.llm.embedded import embedded_hf_checkpoint
from humanllm.llm.fingerprint import checkpoint_fingerprint
from humanllm.llm.hf_batch import BatchQueue, Job, Row, decode

#: Requests decoded together in one batch (unless the backend is built with another value).
MAX_BATCH = 16


def schema_instruction(schema: dict[str, Any]) -> str:
    return (
        "Reply with one JSON object only, no other text, valid against this JSON schema:\n"
        + json.dumps(schema, ensure_ascii=False)
    )


class TransformersBackend:
    """Chat (batched, schema-constrained) and log-likelihood scoring with an HF checkpoint.

    ``max_batch``: requests decoded together (default :data:`MAX_BATCH`); ``constrained``:
    decode requests that carry a JSON schema under its grammar (default: when xgrammar is
    installed; otherwise the schema is only described in the system message). The attribute
    of that name may be changed between requests. ``threads``: torch's intra-op threads, set
    for the process (default: torch's choice). On a CPU shared with
    other processes one thread decodes ~10x faster than two (``benchmarks/hf_generate.py``).
    """

    def __init__(
        self,
        cfg: TransformersBackendConfig,
        *,
        max_batch: int | None = None,
        constrained: bool | None = None,
        threads: int | None = None,
    ) -> None:
        try:
            import torch
            import transformers  # noqa: F401
        except ImportError as e:
            raise PermanentError(
                f"the transformers backend needs torch and transformers ({e}): pip install 'humanllm[train]'"
            ) from e
        self.cfg = cfg
        path = (
            embedded_hf_checkpoint()
            if cfg.model_path == "embedded"
            else Path(cfg.model_path).expanduser()
        )
        if not (path / "config.json").is_file():
            raise PermanentError(
                f"{path} is not an HF checkpoint folder (no config.json); use 'embedded' or a folder "
                "written by save_pretrained (safetensors + tokenizer + chat template)"
            )
        self.model_path = path
        self._model_id = f"transformers:{path.name}:{checkpoint_fingerprint(path)}"
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._guides: SchemaGuides | None = None
        self.device = "cpu"
        self.max_batch = max_batch or int(getattr(cfg, "max_batch_size", 0) or MAX_BATCH)
        wanted = getattr(cfg, "constrained", None) if constrained is None else constrained
        self.constrained = constrained_available() if wanted is None else bool(wanted)
        self.threads = threads or getattr(cfg, "threads", None)
        if self.threads:  # here (the caller's thread) and again in the thread that loads
            torch.set_num_threads(self.threads)
        self._queue = BatchQueue(self._prepare, self._run_batch, self.max_batch)

    @property
    def model_id(self) -> str:
        return self._model_id

    # -- loading -------------------------------------------------------------------------------

    def _load(self) -> None:
        """Load model and tokenizer on first use (the caller holds ``self._lock``)."""
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = self.cfg.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise PermanentError(f"device {device!r} asked for, but torch sees no CUDA GPU")
        if self.threads:  # OpenMP's thread count is per thread: the batch worker's too
            torch.set_num_threads(self.threads)
        name = self.cfg.dtype
        if name == "auto":
            gpu = device.startswith("cuda")
            name = (
                "bfloat16"
                if gpu and torch.cuda.is_bf16_supported()
                else "float16"
                if gpu
                else "float32"
            )
        tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
        if not getattr(tokenizer, "chat_template", None):
            raise PermanentError(f"{self.model_path} has no chat template in its tokenizer files")
        model: Any = AutoModelForCausalLM.from_pretrained(
            str(self.model_path), dtype=getattr(torch, name)
        )
        self._model = model.to(device).eval()
        self._tokenizer = tokenizer
        self.device = device
        ids = model.generation_config.eos_token_id
        eos = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
        if tokenizer.eos_token_id is not None:
            eos.add(tokenizer.eos_token_id)
        self._eos = eos
        # transformers 5.x renamed the KV-cache argument `past_key_values` to `cache`.
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        keep_args = [a for a in ("logits_to_keep", "num_logits_to_keep") if a in params]
        self._keep_arg = keep_args[0] if keep_args else None
        self._limit = int(getattr(model.config, "max_position_embeddings", 0) or 1 << 30)
        pad = tokenizer.pad_token_id
        self._pad = int(pad if pad is not None else min(eos) if eos else 0)

    def _schema_guides(self) -> SchemaGuides:
        """Grammars over this tokenizer, built on the first constrained request."""
        if self._guides is None:
            vocab = int(self._model.get_output_embeddings().weight.shape[0])
            self._guides = SchemaGuides(self._tokenizer, vocab, self._eos)
        return self._guides

    def _forward(self, ids: list[int], cache: Any = None, keep: int = 0) -> tuple[Any, Any]:
        """One forward pass of one sequence: (logits of its last ``keep`` positions, all when 0; cache)."""
        import torch

        kwargs: dict[str, Any] = {self._cache_arg: cache, "use_cache": True}
        if self._keep_arg:
            kwargs[self._keep_arg] = keep
        res = self._model(input_ids=torch.tensor([ids], device=self.device), **kwargs)
        new_cache = getattr(res, "cache", None)
        logits = res.logits[:, -keep:] if keep else res.logits
        return logits, new_cache if new_cache is not None else res.past_key_values

    def _batch_forward(self, ids: Any, mask: Any, positions: Any, cache: Any) -> tuple[Any, Any]:
        """One forward pass of a padded batch: (logits of the last position, cache)."""
        kwargs: dict[str, Any] = {
            self._cache_arg: cache,
            "use_cache": True,
            "attention_mask": mask,
            "position_ids": positions,
        }
        if self._keep_arg:
            kwargs[self._keep_arg] = 1
        res = self._model(input_ids=ids, **kwargs)
        new_cache = getattr(res, "cache", None)
        return res.logits[:, -1], new_cache if new_cache is not None else res.past_key_values

    def _tokenize(self, text: str, special: bool) -> list[int]:
        """Token ids of ``text``; special-token text (``<|im_end|>``) is parsed only if ``special``."""
        enc = self._tokenizer(text, add_special_tokens=False, split_special_tokens=not special)
        return list(enc["input_ids"])

    def prompt_tokens(self, messages: Chat) -> tuple[list[int], list[tuple[int, int]]]:
        """The prompt's ids and the id span of each message's text (never a special token)."""
        with self._lock:
            self._load()
            return self._prompt_tokens(messages)

    def _prompt_tokens(self, messages: Chat) -> tuple[list[int], list[tuple[int, int]]]:
        def render(chat: list[dict[str, str]]) -> str:
            return str(
                self._tokenizer.apply_chat_template(
                    chat, tokenize=False, add_generation_prompt=True
                )
            )

        return chat_token_ids(chat_segments(render, messages), self._tokenize)

    def _prompt_ids(self, messages: Chat) -> list[int]:
        return self._prompt_tokens(messages)[0]

    def _check_fits(self, n_tokens: int) -> None:
        if n_tokens > self._limit:
            raise PermanentError(
                f"{n_tokens} tokens do not fit the model's {self._limit} positions: shorten the prompt"
            )

    # -- chat ----------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatResponse:
        response: ChatResponse = await self._queue.submit(request)
        return response

    def chat_blocking(self, request: ChatRequest) -> ChatResponse:
        """Answer one request from a thread without an event loop (it joins the next batch)."""
        response: ChatResponse = self._queue.submit_blocking(request)
        return response

    @property
    def batch_sizes(self) -> list[int]:
        """Rows of every batch decoded so far (in order)."""
        return self._queue.batch_sizes

    def _prepare(self, job: Job) -> None:
        """Tokenize one request (in the batch worker); a prompt too long fails it alone."""
        import torch

        request: ChatRequest = job.payload
        with self._lock:
            self._load()
            messages = list(request.messages)
            guide = None
            if request.json_schema is not None:
                messages = _with_system_note(messages, schema_instruction(request.json_schema))
                if self.constrained:
                    guide = self._schema_guides().guide(request.json_schema)
            ids = self._prompt_ids(messages)
        self._check_fits(len(ids) + 1)
        s = request.sampling
        gen = torch.Generator(device=self.device)
        gen.manual_seed(s.seed if s.seed is not None else random.getrandbits(63))
        budget = max(1, min(s.max_tokens, self._limit - len(ids)))
        job.size = len(ids)
        job.payload = (request, Row(ids, budget, s.temperature, s.top_p, gen, guide))

    def _run_batch(self, jobs: list[Job]) -> None:
        import torch

        rows: list[Row] = []
        for job in jobs:
            row: Row = job.payload[1]
            row.on_done = lambda r, job=job: self._finish(job, r)
            rows.append(row)
        with self._lock, torch.inference_mode():
            decode(self._batch_forward, rows, self._eos, self._pad, self.device)

    def _finish(self, job: Job, row: Row) -> None:
        text = self._tokenizer.decode(row.out, skip_special_tokens=True)
        job.future.set_result(
            ChatResponse(
                text=text,
                finish_reason=row.finish or "stop",
                prompt_tokens=len(row.prompt),
                completion_tokens=len(row.out),
                model=self._model_id,
            )
        )

    # -- scoring -------------------------------------------------------------------------------

    def loglikelihoods(
        self,
        messages: list[tuple[str, str]],
        options: list[str],
        *,
        prefix_reuse: bool = True,
        batched: bool = True,
    ) -> list[float]:
        """Sum of log-probs of each option's tokens as the assistant's reply to ``messages``.

        Only the option's own tokens count (not the end-of-turn marker after it). With
        ``prefix_reuse`` the shared prompt runs once and its KV cache serves every option: with
        ``batched`` (the default, fastest) the options then run together in right-padded batches
        (in a causal model a real token never sees the padding after it), each row starting from
        a copy of the prompt's cache; without it one at a time, the cache cut back to the prompt
        after each. Without ``prefix_reuse`` each prompt + option runs in full (the reference).
        """
        import torch

        with self._lock, torch.inference_mode():
            self._load()
            prompt = self._prompt_ids(messages)
            conts = []
            for o in options:
                ids = self._tokenize(o, special=False)
                if not ids:
                    raise ValueError(f"option {o!r} has no tokens: cannot score an empty reply")
                conts.append(ids)
            self._check_fits(len(prompt) + max((len(c) for c in conts), default=0))
            if prefix_reuse and batched:
                return self._score_batched(prompt, conts)
            if prefix_reuse:
                return self._score_with_prefix(prompt, conts)
            return [self._score_full(prompt, c) for c in conts]

    def _score_full(self, prompt: list[int], cont: list[int]) -> float:
        import torch

        logits, _ = self._forward(prompt + cont, keep=len(cont) + 1)
        logp = torch.log_softmax(logits[0, :-1].float(), dim=-1)
        target = torch.tensor(cont, device=self.device)
        return float(logp.gather(1, target[:, None]).sum())

    def _score_with_prefix(self, prompt: list[int], conts: list[list[int]]) -> list[float]:
        import torch

        logits, cache = self._forward(prompt, keep=1)
        first = torch.log_softmax(logits[0, -1].float(), dim=-1)
        croppable = bool(getattr(cache, "is_croppable", True))
        scores = []
        for cont in conts:
            total = float(first[cont[0]])
            if len(cont) > 1:
                past = cache if croppable else copy.deepcopy(cache)
                logits, _ = self._forward(cont[:-1], past)
                logp = torch.log_softmax(logits[0].float(), dim=-1)
                target = torch.tensor(cont[1:], device=self.device)
                total += float(logp.gather(1, target[:, None]).sum())
                if croppable:
                    cache.crop(-(len(cont) - 1))  # back to the prompt alone
            scores.append(total)
        return scores

    def _score_batched(self, prompt: list[int], conts: list[list[int]]) -> list[float]:
        import torch

        logits, cache = self._forward(prompt, keep=1)
        first = torch.log_softmax(logits[0, -1].float(), dim=-1)
        vocab = int(first.shape[-1])
        croppable = bool(getattr(cache, "is_croppable", True))
        scores = [float(first[c[0]]) for c in conts]
        rest = [k for k, c in enumerate(conts) if len(c) > 1]
        for chunk in logit_chunks([len(conts[k]) - 1 for k in rest], vocab):
            keys = [rest[j] for j in chunk]
            width = max(len(conts[k]) - 1 for k in keys)
            rows = [conts[k][:-1] + [conts[k][0]] * (width - len(conts[k]) + 1) for k in keys]
            past = cache if croppable else copy.deepcopy(cache)
            past.batch_repeat_interleave(len(keys))
            out = self._model(
                input_ids=torch.tensor(rows, device=self.device),
                **{self._cache_arg: past, "use_cache": True},
            )
            logits = out.logits.float()
            norm = torch.logsumexp(logits, dim=-1)
            for row, k in enumerate(keys):
                target = torch.tensor(conts[k][1:], device=self.device)
                n = len(target)
                picked = logits[row, :n].gather(1, target[:, None])[:, 0] - norm[row, :n]
                scores[k] += float(picked.sum())
            if croppable:  # back to the prompt alone, batch of one
                cache.crop(-width)
                cache.batch_select_indices(torch.tensor([0], device=self.device))
        return scores

    async def aclose(self) -> None:
        await asyncio.to_thread(self._queue.close)
        with self._lock:
            self._model = None
            self._tokenizer = None
            self._guides = None


def _with_system_note(messages: list[tuple[str, str]], note: str) -> list[tuple[str, str]]:
    if messages and messages[0][0] == "system":
        return [("system", f"{messages[0][1]}\n\n{note}"), *messages[1:]]
    return [("system", note), *messages]


#: Logit elements (rows x vocabulary) one batched scoring pass may hold: 2^27 float32 = 512 MiB.
MAX_LOGIT_ELEMENTS = 1 << 27


def logit_chunks(lengths: list[int], vocab: int) -> list[list[int]]:
    """Indices of ``lengths`` in groups whose padded logits fit :data:`MAX_LOGIT_ELEMENTS`."""
    out: list[list[int]] = []
    group: list[int] = []
    width = 0
    for k, n in enumerate(lengths):
        wider = max(width, n)
        if group and (len(group) + 1) * wider * vocab > MAX_LOGIT_ELEMENTS:
            out.append(group)
            group, wider = [], n
        group.append(k)
        width = wider
    if group:
        out.append(group)
    return out
