"""What every curation stage shares: backend and cache lifecycle, sampling, record text, shards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import polars as pl

from humanllm.curation.config import LLMStageConfig
from humanllm.llm.backends import UnknownBackendError, named_backend
from humanllm.llm.base import Sampling
from humanllm.llm.progress import RunSummary
from humanllm.llm.prompts import PromptTemplate, package_template
from humanllm.sources.kind import kind_of
from humanllm.sources.kind import narrative_kinds as narrative_kinds  # re-exported
from humanllm.sources.kind import platform_of as platform_of  # re-exported
from humanllm.stage import StageContext, StageError

T = TypeVar("T")


def template(name: str) -> PromptTemplate:
    return package_template("humanllm.curation", f"prompts/{name}")


def template_digest(name: str) -> str:
    """A stage's version: changes when its prompt template's text does."""
    return template(name).digest


def prompt_key(tpl: PromptTemplate) -> str:
    """Goes into the request cache key: editing a template's text invalidates its answers."""
    return f"{tpl.id}:{tpl.digest}"


def sampling(cfg: LLMStageConfig) -> Sampling:
    return Sampling(
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_tokens=cfg.max_tokens,
        frequency_penalty=cfg.frequency_penalty,
        presence_penalty=cfg.presence_penalty,
    )


def stage_llm(cfg: LLMStageConfig) -> tuple[str, Sampling]:
    """The backend name and the sampling of an LLM stage (a unit plan's ``llm``)."""
    return cfg.backend, sampling(cfg)


def source_kinds(ctx: StageContext) -> dict[str, str]:
    """Source name -> kind (``jsonl`` sources report the kind they are filtered as, if any)."""
    return {src.source_name: kind_of(src).name for src in ctx.cfg.sources}


def record_text(row: dict[str, Any]) -> str:
    """The record as the model sees it: the title (when there is one) and the text."""
    title = (row.get("title") or "").strip()
    text = (row.get("text") or "").strip()
    if title and not text.startswith(title):
        return f"{title}\n\n{text}"
    return text


def item_context(row: dict[str, Any]) -> str:
    """For Amazon reviews: the item reviewed and the rating, from the record's meta."""
    try:
        meta = json.loads(row.get("meta") or "{}")
    except json.JSONDecodeError:
        meta = {}
    parts = []
    if meta.get("item_title"):
        parts.append(f"Item: {meta['item_title']}")
    if meta.get("rating") is not None:
        parts.append(f"Rating: {meta['rating']}/5")
    return "\n".join(parts)


def has_input(ctx: StageContext, folder: str) -> bool:
    """False (with a notice) when the stage before kept nothing: the stage then writes nothing."""
    if ctx.run.shards(folder):
        return True
    ctx.console.print(
        f"[yellow]{ctx.stage}: nothing to do, {folder}/ is empty (every record was dropped before)[/yellow]"
    )
    return False


def backend_config(ctx: StageContext, name: str) -> Any:
    try:
        return named_backend(ctx.cfg.llm.backends, name, f"stage {ctx.stage!r}")
    except UnknownBackendError as e:
        raise StageError(str(e)) from e


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(main())  # type: ignore[arg-type]


def merge_summaries(summaries: list[RunSummary]) -> dict[str, Any]:
    """Add up runner summaries for ``_SUCCESS.json`` (requests, cache hits, tokens, rejects...)."""
    total: dict[str, Any] = {}
    for s in summaries:
        for k, v in s.as_dict().items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                total[k] = round(total.get(k, 0) + v, 6)
            elif k not in total:
                total[k] = v
    return total


def subsample(
    df: pl.DataFrame, max_users_per_source: int | None, max_records_per_user: int | None
) -> pl.DataFrame:
    """Quick runs: the first ``max_users_per_source`` users of each source (by user id), each with
    its ``max_records_per_user`` most recent records. ``None`` keeps everything."""
    if max_users_per_source is not None:
        users = (
            df.select("source", "user_id")
            .unique()
            .sort("source", "user_id")
            .group_by("source", maintain_order=True)
            .head(max_users_per_source)
        )
        df = df.join(users, on=["source", "user_id"], how="semi")
    if max_records_per_user is not None:
        df = (
            df.sort(
                "source",
                "user_id",
                "created_at",
                "record_id",
                descending=[False, False, True, False],
                nulls_last=True,
            )
            .group_by("source", "user_id", maintain_order=True)
            .head(max_records_per_user)
        )
    return df.sort("source", "user_id", "created_at", "record_id", nulls_last=True)
