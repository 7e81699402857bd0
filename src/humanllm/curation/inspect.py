"""``humanllm inspect DIR USER_ID``: one user's chain through the run — raw records, cleaned text
and labels, persona / profile / stories / writing style, scenarios, social QA, QC scores, and
their comments (whether the genome kept each) — so a person can judge the quality of every step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from humanllm.runfolder import RunFolder

FOLDERS = ("records", "cleaned", "labeled", "users", "scenarios", "social_qa", "qc", "comments")


def user_chain(
    run_dir: str | Path, user_id: str, source: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Rows of every stage folder (and the rejects) that belong to ``user_id``."""
    run = RunFolder(Path(run_dir))
    if not run.root.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    out: dict[str, list[dict[str, Any]]] = {}
    for folder in FOLDERS:
        lf = run.scan(folder)
        if lf is None:
            continue
        cond = pl.col("user_id") == user_id
        if source:
            cond = cond & (pl.col("source") == source)
        out[folder] = lf.filter(cond).collect().to_dicts()
    ids = {r["record_id"] for r in out.get("records", [])} | {user_id}
    ids |= {r["comment_id"] for r in out.get("comments", [])}
    ids |= {r.get("qa_id") for r in out.get("social_qa", [])} - {None}
    genome_comments = run.genome_dir / "comments.parquet"
    if genome_comments.is_file():
        cond = pl.col("user_id") == user_id
        if source:
            cond = cond & (pl.col("source") == source)
        out["genome_comments"] = pl.scan_parquet(genome_comments).filter(cond).collect().to_dicts()
    rejects = run.scan_rejects()
    if rejects is not None:
        cond = pl.col("record_id").is_in(list(ids))
        if source:
            cond = cond & (pl.col("source") == source)
        out["rejects"] = rejects.filter(cond).collect().to_dicts()
    if not any(out.get("records", [])):
        raise KeyError(
            f"user {user_id!r} has no records in {run_dir}"
            + (f" (source {source})" if source else "")
        )
    return out


def _short(text: Any, n: int = 400) -> str:
    """User text cut to ``n`` characters, escaped so rich shows "[removed]" instead of reading
    it as markup."""
    s = "" if text is None else str(text)
    return escape(s if len(s) <= n else s[: n - 1] + "…")


def render_chain(chain: dict[str, list[dict[str, Any]]], console: Console) -> None:
    cleaned = {r["record_id"]: r for r in chain.get("cleaned", [])}
    labeled = {r["record_id"]: r for r in chain.get("labeled", [])}
    rejected = {r["record_id"]: f"{r['stage']}: {r['reason']}" for r in chain.get("rejects", [])}
    records = sorted(
        chain.get("records", []), key=lambda r: (str(r.get("created_at")), r["record_id"])
    )
    for r in records:
        rid = r["record_id"]
        parts: list[Any] = [Text("raw: ", style="bold") + Text(str(r["text"] or "")[:400])]
        if rid in cleaned:
            cleaned_text = str(cleaned[rid]["text"] or "")[:400]
            parts.append(Text("cleaned: ", style="bold green") + Text(cleaned_text))
        if rid in labeled:
            parts.append(
                Text(
                    f"label: quality={labeled[rid].get('quality')} harmful={labeled[rid].get('harmful')}",
                    style="cyan",
                )
            )
        if rid in rejected:
            parts.append(Text(f"dropped at {rejected[rid]}", style="red"))
        console.print(
            Panel(Group(*parts), title=f"record {rid} · {r['source']} · {r.get('created_at')}")
        )
    for u in chain.get("users", []):
        stories = "\n".join(
            f"- {_short(s['summary'])}: {_short(s['narrative'], 200)}"
            for s in u.get("stories") or []
        )
        body = (
            f"[bold]persona[/bold] {_short(u['persona'], 2000)}\n\n"
            f"[bold]profile[/bold] {_short(u['profile'], 4000)}\n\n[bold]stories[/bold]\n{stories}"
            f"\n\n[bold]writing style[/bold] {_short(u['writing_style'], 2000)}"
        )
        console.print(Panel(body, title=f"user portrait ({u['n_records']} records)"))
    for s in chain.get("scenarios", []):
        chars = _short(", ".join(c["name"] for c in s.get("characters") or []))
        console.print(
            Panel(
                f"[bold]time[/bold] {_short(s['time'])} · [bold]place[/bold] {_short(s['place'])}\n"
                f"[bold]characters[/bold] {chars}\n[bold]plots[/bold] {_short(s['plots'], 4000)}",
                title=f"scenario {s['scenario_id']}",
            )
        )
    if chain.get("social_qa"):
        t = Table(title="social QA", show_lines=True)
        for col in ("qa_id", "type", "scenario", "question", "answer"):
            t.add_column(col)
        for q in chain["social_qa"]:
            t.add_row(
                q["qa_id"],
                q["type"],
                _short(q["scenario"], 200),
                _short(q["question"]),
                _short(q["answer"], 200),
            )
        console.print(t)
    if chain.get("comments"):
        kept = {r["comment_id"] for r in chain.get("genome_comments", [])}
        t = Table(title="comments (on other people's posts)", show_lines=True)
        for col in ("comment", "on post", "text", "in genome"):
            t.add_column(col)
        for c in sorted(
            chain["comments"], key=lambda c: (str(c.get("created_at")), c["comment_id"])
        ):
            cid = c["comment_id"]
            status = "yes" if cid in kept else f"[red]{rejected.get(cid, 'no')}[/red]"
            t.add_row(cid, str(c.get("post_id")), _short(c.get("text"), 200), status)
        console.print(t)
    if chain.get("qc"):
        t = Table(title="QC scores (1-10, higher is better)")
        for col in ("kind", "item", "passed", "scores", "rationale (overall)"):
            t.add_column(col)
        for q in chain["qc"]:
            rationale = json.loads(q["rationales"]).get("overall", "")
            t.add_row(
                q["kind"],
                q["item_id"],
                "yes" if q["passed"] else "[red]no[/red]",
                q["scores"],
                _short(rationale, 120),
            )
        console.print(t)
