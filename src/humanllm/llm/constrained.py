"""Grammar-constrained decoding from a JSON schema for the transformers backend (xgrammar).

:class:`SchemaGuides` compiles a stage's JSON schema once into a grammar over the tokenizer's
vocabulary (xgrammar's ``GrammarCompiler``, cached by schema) and gives each request its own
:class:`SchemaGuide`: before every sampled token it sets the logits of the tokens the grammar
forbids to -inf, then advances on the chosen token. The reply is therefore JSON of the schema's
shape -- keys, types, required fields, enums and consts, string and array lengths, patterns,
integer ranges -- and once the object is complete only the end-of-turn token is allowed.

The JSON is compact (``", "`` and ``": "`` separators, no free whitespace), so a small model
cannot spend its budget on blank lines. A reply can still be cut by ``max_tokens`` (then it is
truncated JSON with ``finish_reason == "length"``), and bounds the grammar does not express
(float ranges) are left to the runner's pydantic validation.

Why xgrammar: measured on a 2-core CPU with the embedded model's 49k-token vocabulary and the
curation stages' schemas, xgrammar compiles a schema in 0.03-0.06 s and masks a token in ~1-2
ms; outlines-core needed 15 s (Labels) to 230 s (Scenario) to build its index (string length
bounds unroll into huge automata); lm-format-enforcer masks in ~50 ms per token in Python and its
transformers integration does not import with transformers 5. None of them pulls another torch.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from humanllm.llm.base import PermanentError


def available() -> bool:
    """Whether xgrammar is installed (it comes with the ``train`` extra)."""
    import importlib.util

    return importlib.util.find_spec("xgrammar") is not None


class SchemaGuide:
    """The grammar state of one reply."""

    def __init__(self, matcher: Any, vocab_size: int) -> None:
        import xgrammar as xgr

        self._xgr = xgr
        self.matcher = matcher
        self.bitmask = xgr.allocate_token_bitmask(1, vocab_size)

    def mask(self, logits: Any) -> None:
        """Forbid, in place, the tokens the grammar does not allow next (``logits``: one row)."""
        self.matcher.fill_next_token_bitmask(self.bitmask, 0)
        bitmask = self.bitmask if logits.device.type == "cpu" else self.bitmask.to(logits.device)
        self._xgr.apply_token_bitmask_inplace(logits.view(1, -1), bitmask)

    def accept(self, token: int) -> None:
        if not self.matcher.accept_token(token):
            raise RuntimeError(f"the grammar refused token {token} it had allowed")


class SchemaGuides:
    """Compiled grammars of JSON schemas over one tokenizer, cached by schema."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_ids: set[int]) -> None:
        if not available():
            raise PermanentError(
                "constrained decoding on the transformers backend needs xgrammar: "
                "pip install 'humanllm[train]' (or set constrained: false)"
            )
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=sorted(stop_ids)
        )
        self._compiler = xgr.GrammarCompiler(info, max_threads=1)
        self._vocab_size = vocab_size
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()

    def compiled(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True, ensure_ascii=False)
        with self._lock:
            if key not in self._compiled:
                try:
                    self._compiled[key] = self._compiler.compile_json_schema(
                        key, any_whitespace=False, strict_mode=True
                    )
                except Exception as e:  # xgrammar raises on schema constructs it does not know
                    raise PermanentError(f"cannot build a grammar from the JSON schema: {e}") from e
            return self._compiled[key]

    def guide(self, schema: dict[str, Any]) -> SchemaGuide:
        import xgrammar as xgr

        return SchemaGuide(xgr.GrammarMatcher(self.compiled(schema)), self._vocab_size)
