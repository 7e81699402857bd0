"""Stage ``users`` (§2.2): per user, all kept records in chronological order -> persona (< 100
words), profile (100-400 words), stories ({summary, narrative}) and writing style. Amazon users get
the same from their purchase history (item, rating, review).

Context policy (``curation.users.context_chars``): when a user's records together exceed the
budget, records are picked evenly across time — always the first and the last — as many as fit
when each is cut to an equal share of the budget (at least 400 characters each), and are shown in
chronological order; the prompt says how many of how many records it shows."""

from __future__ import annotations

from typing import Any

import polars as pl

from humanllm.curation.common import (
    has_input,
    item_context,
    llm_session,
    merge_summaries,
    platform_of,
    prompt_key,
    record_text,
    run_async,
    sampling,
    source_kinds,
    template,
)
from humanllm.curation.schemas import UserPortrait, check_portrait_lengths, portrait_model
from humanllm.curation.tables import USERS_SCHEMA, frame
from humanllm.llm.outputs import reject_detail
from humanllm.llm.runner import arun_llm
from humanllm.runfolder import SourceCounts
from humanllm.stage import StageContext, StageResult

MIN_SHARE = 400
MAX_STORIES = 5


def render_history(rows: list[dict[str, Any]], kind: str, budget: int) -> tuple[str, int]:
    """The user's records as one text within ``budget`` characters; returns (text, records shown)."""
    texts = []
    for row in rows:
        body = record_text(row)
        if kind == "amazon":
            body = f"{item_context(row)}\n{body}".strip()
        when = row.get("created_at")
        stamp = when.strftime("%Y-%m-%d") if when is not None else "undated"
        texts.append((stamp, body))
    total = sum(len(b) for _, b in texts)
    if total <= budget:
        chosen = list(range(len(texts)))
        share = budget
    else:
        fit = max(1, min(len(texts), budget // MIN_SHARE))
        if fit == 1:
            chosen = [len(texts) - 1]
        else:
            step = (len(texts) - 1) / (fit - 1)
            chosen = sorted({round(i * step) for i in range(fit)})
        share = budget // len(chosen)
    parts = []
    for n, i in enumerate(chosen, start=1):
        stamp, body = texts[i]
        if len(body) > share:
            body = body[: share - 3].rstrip() + "..."
        parts.append(f"[{n}] {stamp}\n{body}")
    return "\n\n".join(parts), len(chosen)


def user_histories(ctx: StageContext, folder: str = "labeled") -> list[dict[str, Any]]:
    """One item per (source, user): the user's rows in chronological order."""
    lf = ctx.run.scan(folder)
    if lf is None:
        return []
    df = lf.collect().sort("source", "user_id", "created_at", "record_id", nulls_last=True)
    out = []
    for (source, user_id), part in df.group_by("source", "user_id", maintain_order=True):
        out.append(
            {
                "_id": f"{source}/{user_id}",
                "source": source,
                "user_id": user_id,
                "rows": part.to_dicts(),
            }
        )
    return out


def run_users(ctx: StageContext) -> StageResult:
    if not has_input(ctx, "labeled"):
        return StageResult()
    ucfg = ctx.cfg.curation.users
    tpl = template("users.v1.txt")
    kinds = source_kinds(ctx)
    users = user_histories(ctx)
    result = StageResult()
    for u in users:
        u["_kind"] = kinds.get(u["source"], "jsonl")
        u["_text"], u["_shown"] = render_history(u["rows"], u["_kind"], ucfg.context_chars)

    def render(u: dict[str, Any]):  # type: ignore[no-untyped-def]
        n = len(u["rows"])
        note = "" if u["_shown"] == n else f", {u['_shown']} of them shown, evenly spread over time"
        return tpl.render(
            platform=platform_of(u["_kind"]) + "s",
            n_records=n,
            sampling_note=note,
            records=u["_text"],
            max_stories=MAX_STORIES,
        )

    def validate(p: UserPortrait, _: Any) -> None:
        check_portrait_lengths(
            p, ucfg.persona_max_words, ucfg.profile_min_words, ucfg.profile_max_words
        )

    async def main() -> Any:
        async with llm_session(ctx, ucfg.backend) as (backend, cache):
            return await arun_llm(
                users,
                render=render,
                schema=portrait_model(
                    ucfg.persona_max_words, ucfg.profile_min_words, ucfg.profile_max_words
                ),
                backend=backend,
                cache=cache,
                stage=ctx.stage,
                prompt_version=prompt_key(tpl),
                sampling=sampling(ucfg),
                runner_cfg=ctx.cfg.llm.runner,
                validate=validate,
                id_field="_id",
            )

    outcome = run_async(main) if users else None
    rows, rejects = [], []
    for u in users:
        counts = result.counts.setdefault(u["source"], SourceCounts())
        counts.records_in += 1
        if outcome is not None and u["_id"] in outcome.results:
            p: UserPortrait = outcome.results[u["_id"]]
            rows.append(
                {
                    "user_id": u["user_id"],
                    "source": u["source"],
                    "persona": p.persona,
                    "profile": p.profile,
                    "stories": [s.model_dump() for s in p.stories],
                    "writing_style": p.writing_style,
                    "n_records": len(u["rows"]),
                    "n_records_shown": u["_shown"],
                }
            )
            counts.records_out += 1
    if outcome is not None:
        by_id = {u["_id"]: u for u in users}
        for r in outcome.rejects:
            u = by_id[r.id]
            rejects.append(
                {
                    "source": u["source"],
                    "record_id": u["user_id"],
                    "reason": r.reason,
                    "detail": reject_detail(r),
                }
            )
            result.counts[u["source"]].rejected += 1
    if rows:
        df = frame(rows, USERS_SCHEMA)
        for (source,), part in df.group_by("source", maintain_order=True):
            ctx.run.write_shard("users", f"{source}-00000", part)
    if rejects:
        rdf = pl.DataFrame(rejects)
        for (source,), part in rdf.group_by("source", maintain_order=True):
            ctx.run.write_rejects(ctx.stage, str(source), f"{source}", part.drop("source"))
    result.extra["llm"] = merge_summaries([outcome.summary]) if outcome else {}
    result.extra["prompt"] = prompt_key(tpl)
    result.extra["backend"] = ucfg.backend
    return result
