"""Stage ``users`` (§2.2): per user, all kept records in chronological order -> persona (< 100
words), profile (100-400 words), stories ({summary, narrative}) and writing style. Amazon users get
the same from their purchase history (item, rating, review).

Context policy (``curation.users.context_chars``): when a user's records together exceed the
budget, records are picked evenly across time — always the first and the last — as many as fit
when each is cut to an equal share of the budget (at least 400 characters each), and are shown in
chronological order; the prompt says how many of how many records it shows.

The stage's unit is a bucket of users (:mod:`humanllm.curation.buckets`)."""

from __future__ import annotations

from typing import Any

import polars as pl

from humanllm.curation.buckets import (
    bucket_count,
    bucket_dir,
    folder_rows,
    read_bucket,
    scatter,
    unit_id,
)
from humanllm.curation.common import (
    has_input,
    item_context,
    platform_of,
    prompt_key,
    record_text,
    source_kinds,
    stage_llm,
    template,
)
from humanllm.curation.schemas import UserPortrait, check_portrait_lengths, portrait_model
from humanllm.curation.tables import USERS_SCHEMA, frame
from humanllm.llm.outputs import reject_detail
from humanllm.stage import StageContext, StageResult
from humanllm.units import Unit, UnitContext, UnitPlan, UnitResult

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


def user_histories(df: pl.DataFrame | None) -> list[dict[str, Any]]:
    """One item per (source, user) of ``df``: the user's rows in chronological order."""
    if df is None or df.height == 0:
        return []
    df = df.sort("source", "user_id", "created_at", "record_id", nulls_last=True)
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


def bucket_units(ctx: StageContext, inputs: tuple[str, ...]) -> list[Unit]:
    """The user buckets of a stage reading ``inputs`` (``labeled`` first), scattered once."""
    if not has_input(ctx, "labeled"):
        return []
    rows = folder_rows(ctx, "labeled")
    n = bucket_count(ctx, rows)
    into = bucket_dir(ctx, ctx.stage, n)
    for folder in inputs:
        scatter(ctx, folder, into, n)
    return [Unit(unit_id(b), rows=-(-rows // n), params={"bucket": b, "n": n}) for b in range(n)]


def _units(ctx: StageContext) -> list[Unit]:
    return bucket_units(ctx, ("labeled",))


async def _run(uctx: UnitContext) -> UnitResult:
    ctx, unit = uctx.ctx, uctx.unit
    ucfg = ctx.cfg.curation.users
    tpl = template("users.v1.txt")
    kinds = source_kinds(ctx)
    into = bucket_dir(ctx, ctx.stage, unit.params["n"])
    users = user_histories(read_bucket(into, "labeled", unit.params["bucket"]))
    result = UnitResult()
    for u in users:
        u["_kind"] = kinds.get(u["source"], "jsonl")
        u["_text"], u["_shown"] = render_history(u["rows"], u["_kind"], ucfg.context_chars)
    if not users:
        return result

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

    outcome = await uctx.llm_session.ask(
        users,
        render=render,
        schema=portrait_model(
            ucfg.persona_max_words, ucfg.profile_min_words, ucfg.profile_max_words
        ),
        prompt_version=prompt_key(tpl),
        validate=validate,
    )
    rows, rejects = [], []
    for u in users:
        counts = result.source(u["source"])
        counts.records_in += 1
        if u["_id"] in outcome.results:
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
        result.source(u["source"]).rejected += 1
    if rows:
        ctx.run.write_shard("users", unit.id, frame(rows, USERS_SCHEMA))
    if rejects:
        ctx.run.write_rejects(ctx.stage, "", unit.id, pl.DataFrame(rejects))
    return result


def _finish(ctx: StageContext, result: StageResult) -> StageResult:
    result.extra.setdefault("llm", {})
    result.extra["prompt"] = prompt_key(template("users.v1.txt"))
    result.extra["backend"] = ctx.cfg.curation.users.backend
    return result


PLAN = UnitPlan(
    units=_units, run=_run, llm=lambda ctx: stage_llm(ctx.cfg.curation.users), finish=_finish
)
