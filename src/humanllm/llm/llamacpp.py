"""The ``llamacpp`` backend: a GGUF model in-process on the CPU through llama-cpp-python.

Chat prompts are rendered with the chat template stored in the GGUF and tokenized piece by piece
(:mod:`humanllm.llm.chat_tokens`): the template's own text with special tokens parsed, every
message's text as plain text, so a post containing ``<|im_end|><|im_start|>system`` cannot open a
turn of its own (llama-cpp-python's chat handler parses special tokens in the whole prompt,
messages included). A request with a JSON schema
is decoded under a grammar built from that schema, so the reply is JSON of the schema's shape:
keys, types, required fields, enums and consts, string and array lengths, patterns and small
integer ranges (``minimum``..``maximum`` spanning < 256 values, e.g. a 1-10 rating) are enforced
while sampling. Not enforced by the grammar (the runner's pydantic validation catches them and
re-asks): bounds on floats, wide or one-sided integer ranges, string lengths over 1000 characters
and array lengths over 16 items (llama.cpp refuses the unrolled rules). A reply cut off by ``max_tokens``
is truncated JSON with ``finish_reason == "length"``.

Concurrency (``n_parallel``): a pool of N independent ``Llama`` instances, each with
``max(1, threads // N)`` threads (``n_threads``, default all cores, is the total), each owned by
one worker thread of a private executor, so N requests decode at once and the rest wait in FIFO
order. Measured with ``humanllm.llm.throughput`` on a 2-core machine, embedded 135M model, 128
tokens per reply: one 2-thread instance gives ~110 output tokens/s, two 1-thread instances serving
4 concurrent requests ~150 tokens/s together (1.4x); with the cores contended by other processes
44 vs 76 tokens/s (1.7x). llama.cpp's batched decoding of several sequences in one context was
measured too (raw loop, no grammar): 126 / 132 / 154 / 69 tokens/s for 1 / 2 / 4 / 8 sequences
-- no better than the pool, noisier, and it would need a custom scheduler with a grammar per
sequence. On a CPU a Q4 matmul over k sequences costs nearly k times one (compute-bound), and
2-thread decoding suffers from the barrier between its threads when the cores are shared.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import queue
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from humanllm.llm.base import ChatRequest, ChatResponse, PermanentError
from humanllm.llm.chat_tokens import Chat, chat_segments, chat_token_ids
from humanllm.llm.config import LlamaCppBackendConfig
from humanllm.llm.embedded import embedded_gguf_path, gguf_fingerprint

MAX_ENUM_INT_RANGE = 256  # integer ranges narrower than this become an enum in the grammar
MAX_GRAMMAR_STRING_LENGTH = (
    1000  # longer string length bounds are checked by pydantic only (llama.cpp limit)
)
MAX_GRAMMAR_ITEMS = 16  # longer array length bounds likewise

# JSON forbids raw control characters inside strings; llama-cpp-python's converter allows them.
_CHAR_RULE = (
    r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] '
    r"[0-9a-fA-F] [0-9a-fA-F])"
)


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _int_bounds(node: dict[str, Any]) -> tuple[int | None, int | None]:
    lo: int | None = None
    hi: int | None = None
    if isinstance(node.get("minimum"), int | float):
        lo = math.ceil(node["minimum"])
    if isinstance(node.get("exclusiveMinimum"), int | float):
        x = math.floor(node["exclusiveMinimum"]) + 1
        lo = x if lo is None else max(lo, x)
    if isinstance(node.get("maximum"), int | float):
        hi = math.floor(node["maximum"])
    if isinstance(node.get("exclusiveMaximum"), int | float):
        y = math.ceil(node["exclusiveMaximum"]) - 1
        hi = y if hi is None else min(hi, y)
    return lo, hi


def _tighten(node: Any) -> Any:
    """Rewrite what the grammar converter ignores into what it knows (small int ranges -> enums)."""
    if isinstance(node, list):
        return [_tighten(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _tighten(v) for k, v in node.items()}
    if out.get("type") == "integer" and "enum" not in out and "const" not in out:
        lo, hi = _int_bounds(out)
        if lo is not None and hi is not None and 0 <= hi - lo < MAX_ENUM_INT_RANGE:
            bounds = {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
            out = {k: v for k, v in out.items() if k not in bounds}
            out["enum"] = list(range(lo, hi + 1))
    if out.get("type") == "string":
        # The converter unrolls string lengths into nested optional rules; llama.cpp refuses long
        # ones. Keep short bounds in the grammar; longer ones are left to pydantic validation.
        for key in ("maxLength", "minLength"):
            if isinstance(out.get(key), int) and out[key] > MAX_GRAMMAR_STRING_LENGTH:
                out.pop(key)
    for key in ("maxItems", "minItems"):
        if isinstance(out.get(key), int) and out[key] > MAX_GRAMMAR_ITEMS:
            out.pop(key)
    return out


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """A llama.cpp GBNF grammar accepting JSON of ``schema``'s shape (see the module docstring)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        gbnf = json_schema_to_gbnf(json.dumps(_tighten(schema)))
    except Exception as e:  # the converter asserts on schema constructs it does not know
        raise PermanentError(f"cannot build a grammar from the JSON schema: {e}") from e
    lines = [_CHAR_RULE if ln.startswith("char ::= ") else ln for ln in gbnf.splitlines()]
    return "\n".join(lines) + "\n"


class _Slot:
    """One ``Llama`` instance; only the worker thread holding it from the free queue uses it."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int) -> None:
        from llama_cpp import Llama

        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                verbose=False,
            )
        except ValueError as e:
            raise PermanentError(f"llama.cpp cannot load {path}: {e}") from e
        self.lock = threading.Lock()
        self.checked_grammars: set[str] = set()
        self._formatter: Any = None
        self.stop: list[str] = []  # the template's end-of-turn text, set with the formatter

    def _chat_formatter(self) -> Any:
        """The GGUF's own chat template, rendered as llama-cpp-python's chat handler renders it."""
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self.llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise PermanentError("the GGUF has no chat template (tokenizer.chat_template)")
            eos, bos = self.llm.token_eos(), self.llm.token_bos()
            model = self.llm._model
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=model.token_get_text(eos) if eos != -1 else "",
                bos_token=model.token_get_text(bos) if bos != -1 else "",
            )
            self.stop = [self._formatter.eos_token] if self._formatter.eos_token else []
        return self._formatter

    def tokenize(self, text: str, special: bool) -> list[int]:
        """Token ids of ``text``; control-token text is parsed only when ``special``."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def prompt_tokens(self, messages: Chat) -> tuple[list[int], list[tuple[int, int]]]:
        """The prompt's ids and the id span of each message's text (never a control token)."""
        formatter = self._chat_formatter()

        def render(chat: list[dict[str, str]]) -> str:
            return str(formatter(messages=chat).prompt)

        return chat_token_ids(chat_segments(render, messages), self.tokenize)

    def check_grammar(self, gbnf: str) -> None:
        """Parse the grammar with llama.cpp once; a grammar it rejects would crash the sampler."""
        if gbnf in self.checked_grammars:
            return
        import llama_cpp

        vocab = self.llm._model.vocab
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
        if not sampler:
            raise PermanentError("llama.cpp rejected the grammar built from the JSON schema")
        llama_cpp.llama_sampler_free(sampler)
        self.checked_grammars.add(gbnf)


class LlamaCppBackend:
    """In-process llama.cpp on the CPU; ``n_parallel`` instances serve concurrent requests."""

    def __init__(self, cfg: LlamaCppBackendConfig | None = None) -> None:
        cfg = cfg or LlamaCppBackendConfig()
        try:
            import llama_cpp  # noqa: F401
        except ImportError as e:
            raise PermanentError(
                "the llamacpp backend needs llama-cpp-python: pip install 'humanllm[llamacpp]' "
                "(it builds from source, ~10 minutes on 2 cores)"
            ) from e
        path = Path(cfg.model_path).expanduser() if cfg.model_path else embedded_gguf_path()
        if not path.is_file():
            raise PermanentError(f"GGUF file not found: {path} (set model_path to a .gguf file)")
        self.cfg = cfg
        self.model_path = path
        self.n_parallel = cfg.n_parallel
        self.threads_per_instance = max(1, (cfg.n_threads or available_cores()) // cfg.n_parallel)
        self._model_id = f"llamacpp:{gguf_fingerprint(path)}"
        self._grammars: dict[str, str] = {}
        self._free: queue.SimpleQueue[_Slot] = queue.SimpleQueue()
        self._slots = [
            _Slot(path, cfg.n_ctx, self.threads_per_instance) for _ in range(cfg.n_parallel)
        ]
        for slot in self._slots:
            self._free.put(slot)
        # As many workers as slots: a worker always finds a free slot; extra requests queue here.
        self._executor = ThreadPoolExecutor(
            max_workers=cfg.n_parallel, thread_name_prefix="llamacpp"
        )
        self._closed = False

    @property
    def model_id(self) -> str:
        return self._model_id

    async def chat(self, request: ChatRequest) -> ChatResponse:
        if self._closed:
            raise PermanentError("the llamacpp backend is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.chat_blocking, request)

    def chat_blocking(self, request: ChatRequest) -> ChatResponse:
        """Answer one request in the calling thread (waits for a free instance)."""
        gbnf = self._grammar(request.json_schema) if request.json_schema is not None else None
        slot = self._free.get()
        try:
            with slot.lock:
                return self._generate(slot, request, gbnf)
        finally:
            self._free.put(slot)

    def _grammar(self, schema: dict[str, Any]) -> str:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = schema_to_gbnf(schema)
        return self._grammars[key]

    def _generate(self, slot: _Slot, request: ChatRequest, gbnf: str | None) -> ChatResponse:
        from llama_cpp import LlamaGrammar

        grammar = None
        if gbnf is not None:
            slot.check_grammar(gbnf)
            grammar = LlamaGrammar.from_string(gbnf, verbose=False)
        s = request.sampling
        # OpenAI semantics: only temperature, top_p and the OpenAI penalties shape the distribution (llama-cpp-python's
        # top_k=40 / min_p=0.05 / repeat_penalty defaults are switched off). No seed: a fresh one.
        # llama.cpp seeds are 32-bit and 0xFFFFFFFF means "random": fold larger seeds below it.
        seed = s.seed % 0xFFFFFFFF if s.seed is not None else random.getrandbits(31)
        try:
            prompt, _ = slot.prompt_tokens(request.messages)
            out: Any = slot.llm.create_completion(
                prompt=prompt,
                stop=slot.stop,
                temperature=s.temperature,
                top_p=s.top_p,
                top_k=0,
                min_p=0.0,
                repeat_penalty=1.0,
                frequency_penalty=s.frequency_penalty,
                presence_penalty=s.presence_penalty,
                max_tokens=s.max_tokens,
                seed=seed,
                grammar=grammar,
            )
        except ValueError as e:  # prompt longer than the context window, bad message, ...
            raise PermanentError(f"llama.cpp refused the request: {e}") from e
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return ChatResponse(
            text=choice.get("text") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            model=self._model_id,
        )

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, True)
        for slot in self._slots:
            slot.llm.close()
