"""The rating page under ``humanllm serve --run-dir RUN``, answers saved to the run folder.

- ``GET /human-eval/{name}/``: the page, without data (strict CSP: its own inline script only);
- ``GET /api/human-eval``: the samples of the run;
- ``GET /api/human-eval/{name}``: the page's data (settings, orders, instances);
- ``GET /api/human-eval/{name}/sheets/{annotator}``: that annotator's saved ratings;
- ``PUT /api/human-eval/{name}/sheets/{annotator}``: save them to ``sheets/<annotator>.csv``
  (the sheet ``score`` reads).

The ``/api/`` routes take the service's dependencies (the bearer token when it has one); the
service's Host check and body limit apply to all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field

from humanllm.humaneval.page import content_security_policy, page_meta, render_shell
from humanllm.humaneval.sample import NAME_RE, SampleError, load
from humanllm.humaneval.sheets import SCALES, SheetError, read_sheet, render_sheet, write_sheet


class SheetRow(BaseModel):
    instance_id: str = Field(max_length=100)
    hallucination: int | None = Field(default=None, ge=1, le=5)
    plausibility: int | None = Field(default=None, ge=1, le=5)
    note: str = Field(default="", max_length=5000)


class SheetBody(BaseModel):
    rows: list[SheetRow] = Field(max_length=100_000)


def router(run_dir: Path, dependencies: list[Any]) -> APIRouter:
    """The routes for the samples in ``run_dir/human_eval/``."""
    root = Path(run_dir) / "human_eval"
    r = APIRouter(tags=["human evaluation"])

    def folder(name: str) -> Path:
        if not NAME_RE.match(name) or not (root / name / "eval.json").is_file():
            raise HTTPException(404, f"no human evaluation {name!r} in this run")
        return root / name

    def sample(name: str) -> tuple[Path, dict[str, Any], dict[str, Any]]:
        f = folder(name)
        try:
            meta, instances = load(f)
        except (SampleError, ValueError, OSError) as e:
            raise HTTPException(500, f"human evaluation {name!r}: cannot read the sample") from e
        return f, meta, {x.instance_id: x for x in instances}

    def annotator_of(meta: dict[str, Any], annotator: str) -> str:
        if annotator not in meta["annotators"]:
            known = ", ".join(meta["annotators"])
            raise HTTPException(404, f"annotator {annotator!r} is not in the assignment ({known})")
        return annotator

    @r.get("/human-eval/{name}/", include_in_schema=False)
    async def page(name: str) -> Response:
        if not NAME_RE.match(name):
            raise HTTPException(404, f"no human evaluation {name!r}")
        headers = {
            "Content-Security-Policy": content_security_policy(),
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache",
        }
        html = render_shell(f"/api/human-eval/{name}")
        return Response(html, media_type="text/html; charset=utf-8", headers=headers)

    @r.get("/api/human-eval", dependencies=dependencies)
    async def samples() -> dict[str, Any]:
        """The human evaluation samples of the run and their pages."""
        names = sorted(p.parent.name for p in root.glob("*/eval.json")) if root.is_dir() else []
        return {"samples": [{"name": n, "page": f"/human-eval/{n}/"} for n in names]}

    @r.get("/api/human-eval/{name}", dependencies=dependencies)
    async def data(name: str) -> dict[str, Any]:
        """The page's data: settings, each annotator's order, the instances."""
        _, meta, instances = sample(name)
        return {
            "meta": page_meta(meta),
            "instances": [x.model_dump(mode="json") for x in instances.values()],
        }

    def saved_rows(path: Path) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        try:
            rows = read_sheet(path) if path.is_file() else []
        except SheetError as e:
            raise HTTPException(
                409, f"the saved sheet {path.name} cannot be read: fix or remove it"
            ) from e
        for row in rows:
            got: dict[str, Any] = {"instance_id": row["instance_id"], "note": row.get("note", "")}
            for s in SCALES:
                v = row.get(s, "").strip()
                got[s] = int(v) if v.isdigit() and 1 <= int(v) <= 5 else None
            out[row["instance_id"]] = got
        return out

    @r.get("/api/human-eval/{name}/sheets/{annotator}", dependencies=dependencies)
    async def get_sheet(name: str, annotator: str) -> dict[str, Any]:
        """One annotator's saved ratings (blank where not rated yet)."""
        f, meta, _ = sample(name)
        rows = saved_rows(f / "sheets" / f"{annotator_of(meta, annotator)}.csv")
        return {"annotator": annotator, "rows": list(rows.values())}

    @r.put("/api/human-eval/{name}/sheets/{annotator}", dependencies=dependencies)
    async def put_sheet(name: str, annotator: str, body: SheetBody) -> dict[str, Any]:
        """Save the annotator's ratings to ``sheets/<annotator>.csv`` in the run folder."""
        f, meta, instances = sample(name)
        annotator_of(meta, annotator)
        order = meta["orders"][annotator]
        mine = set(order)
        path = f / "sheets" / f"{annotator}.csv"
        saved = saved_rows(path)  # rows the body leaves out keep what was saved
        for k, row in enumerate(body.rows):
            if row.instance_id not in mine:
                raise HTTPException(
                    422, f"rows.{k}: instance {row.instance_id!r} is not assigned to {annotator}"
                )
            saved[row.instance_id] = row.model_dump()
        write_sheet(path, render_sheet(annotator, order, instances, saved))
        rated = sum(1 for v in saved.values() if v["hallucination"] and v["plausibility"])
        return {"annotator": annotator, "rated": rated, "of": len(order)}

    return r
