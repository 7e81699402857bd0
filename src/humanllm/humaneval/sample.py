"""``humanllm human-eval sample``: a stratified sample of a run's synthesized data, a balanced
assignment of annotators, and the sheets and page they rate it with.

- Allocation: proportional to each stratum's size (largest remainder), at least one instance per
  non-empty stratum, never more than a stratum holds.
- Selection: within a stratum, the items with the smallest ``sha256(seed, stratum, item id)``, so
  the same seed draws the same sample whatever the table order.
- Assignment: the instances, in a seeded shuffle, take the ``per_item``-subsets of the
  annotators in turn, so each subset (with 3 annotators and 2 per item: each pair) rates equally
  many instances (±1), and no annotator sees an instance twice.

Written to ``RUN/human_eval/<name>/``: ``eval.json`` (settings, allocation, pair counts),
``instances.json``, ``assignment.csv``, ``sheets/<annotator>.csv`` and ``index.html``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from datetime import UTC, datetime
from itertools import combinations
from math import comb, floor
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from humanllm.humaneval.instances import Genome, Instance, Kind, stratum_of
from humanllm.humaneval.page import render_page
from humanllm.humaneval.sheets import SCALE_TEXT, SCALES, render_sheet, write_sheet
from humanllm.runfolder import atomic_write_text

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_SUBSETS = 10_000


class SampleError(ValueError):
    """The sample cannot be drawn with these settings."""


class SampleConfig(BaseModel):
    """Settings of one human evaluation sample."""

    n: int = Field(default=120, ge=1, description="Instances to sample (the paper: 120).")
    annotators: int = Field(
        default=3, ge=2, le=26, description="Number of annotators (the paper: 3)."
    )
    per_item: int = Field(default=2, ge=2, description="Annotators per instance (the paper: 2).")
    seed: int = Field(
        default=0, description="Seed of the selection, the assignment and sheet orders."
    )
    name: str = Field(
        default="", description="Folder under RUN/human_eval/ (default: n<N>-seed<S>)."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v and not NAME_RE.match(v):
            raise ValueError("use letters, digits, '.', '_' and '-' (at most 100 characters)")
        return v

    @model_validator(mode="after")
    def _fits(self) -> SampleConfig:
        if self.per_item > self.annotators:
            raise ValueError(
                f"per_item ({self.per_item}) cannot exceed the annotators ({self.annotators})"
            )
        if comb(self.annotators, self.per_item) > MAX_SUBSETS:
            raise ValueError("too many annotator subsets to balance; use fewer annotators")
        if not self.name:
            self.name = f"n{self.n}-seed{self.seed}"
        return self

    def annotator_ids(self) -> list[str]:
        return [f"a{i}" for i in range(1, self.annotators + 1)]


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Instances per stratum: proportional to ``sizes`` (largest remainder), >= 1 per non-empty
    stratum, <= its size; sums to ``min(n, total)``."""
    sizes = {k: v for k, v in sizes.items() if v > 0}
    total = sum(sizes.values())
    target = min(n, total)
    if target < len(sizes):
        raise SampleError(
            f"--n {n} is below the {len(sizes)} non-empty strata: give at least one per stratum"
        )
    quota = {k: target * v / total for k, v in sizes.items()}
    alloc = {k: min(v, max(1, floor(quota[k]))) for k, v in sizes.items()}
    while sum(alloc.values()) < target:  # the largest remainder among strata with room
        k = max((k for k in sizes if alloc[k] < sizes[k]), key=lambda k: (quota[k] - alloc[k], k))
        alloc[k] += 1
    while (
        sum(alloc.values()) > target
    ):  # the floor of one lifted too many: take from the least owed
        k = min((k for k in sizes if alloc[k] > 1), key=lambda k: (quota[k] - alloc[k], k))
        alloc[k] -= 1
    return alloc


def assign(instance_ids: list[str], annotators: list[str], per_item: int) -> dict[str, list[str]]:
    """Instance id -> its annotators: the ``per_item``-subsets of ``annotators`` in turn."""
    subsets = list(combinations(annotators, per_item))
    return {iid: list(subsets[i % len(subsets)]) for i, iid in enumerate(instance_ids)}


def subset_counts(assignment: dict[str, list[str]]) -> dict[str, int]:
    counts = Counter("+".join(who) for who in assignment.values())
    return dict(sorted(counts.items()))


def pair_counts(assignment: dict[str, list[str]]) -> dict[str, int]:
    """How often each pair of annotators rates the same instance."""
    counts: Counter[str] = Counter()
    for who in assignment.values():
        for a, b in combinations(sorted(who), 2):
            counts[f"{a}+{b}"] += 1
    return dict(sorted(counts.items()))


def _assignment_csv(instances: list[Instance]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("instance_id", "stratum", "source", "kind", "item_id", "annotator"))
    for inst in instances:
        for who in inst.annotators:
            w.writerow((inst.instance_id, inst.stratum, inst.source, inst.kind, inst.item_id, who))
    return buf.getvalue()


def draw(genome: Genome, cfg: SampleConfig) -> tuple[list[Instance], dict[str, Any]]:
    """The sampled instances (ids, annotators set) and the allocation per stratum."""
    cands = genome.candidates()
    if not cands:
        raise SampleError(f"{genome.folder}: no users, scenarios or social QA to sample from")
    sizes = {stratum_of(s, k): len(ids) for (s, k), ids in cands.items()}
    alloc = allocate(sizes, cfg.n)
    wanted: set[tuple[str, Kind, str]] = set()
    for (source, kind), ids in cands.items():
        stratum = stratum_of(source, kind)
        ranked = sorted(ids, key=lambda i: _digest(cfg.seed, stratum, i))
        wanted.update((source, kind, i) for i in ranked[: alloc[stratum]])
    picked = sorted(
        genome.instances(wanted), key=lambda x: _digest(cfg.seed, "order", x.stratum, x.item_id)
    )
    width = max(3, len(str(len(picked))))
    for i, inst in enumerate(picked, start=1):
        inst.instance_id = f"i{i:0{width}d}"
    assignment = assign([x.instance_id for x in picked], cfg.annotator_ids(), cfg.per_item)
    for inst in picked:
        inst.annotators = assignment[inst.instance_id]
    allocation = {k: {"available": sizes[k], "sampled": alloc[k]} for k in sorted(sizes)}
    return picked, allocation


def sample(run_dir: Path, cfg: SampleConfig, *, force: bool = False) -> tuple[Path, dict[str, Any]]:
    """Draw the sample and write ``RUN/human_eval/<name>/``; returns the folder and ``eval.json``."""
    out = Path(run_dir) / "human_eval" / cfg.name
    if (out / "eval.json").exists() and not force:
        raise SampleError(
            f"{out} exists (its sheets may hold ratings): pick another --name or pass --force"
        )
    genome = Genome(Path(run_dir))
    instances, allocation = draw(genome, cfg)
    assignment = {x.instance_id: x.annotators for x in instances}
    by_id = {x.instance_id: x for x in instances}
    orders = {
        a: sorted(
            (x.instance_id for x in instances if a in x.annotators),
            key=lambda i: _digest(cfg.seed, "sheet", a, i),
        )
        for a in cfg.annotator_ids()
    }
    meta: dict[str, Any] = {
        "name": cfg.name,
        "id": _digest(cfg.name, datetime.now(UTC).isoformat(), cfg.seed)[:12],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_dir": str(Path(run_dir).resolve()),
        "settings": cfg.model_dump(),
        "n_instances": len(instances),
        "allocation": allocation,
        "annotators": cfg.annotator_ids(),
        "subset_counts": subset_counts(assignment),
        "pair_counts": pair_counts(assignment),
        "per_annotator": {a: len(o) for a, o in orders.items()},
        "orders": orders,
        "scales": {s: SCALE_TEXT[s] for s in SCALES},
    }
    dump = [x.model_dump(mode="json") for x in instances]
    atomic_write_text(json.dumps(dump, indent=1, ensure_ascii=False) + "\n", out / "instances.json")
    atomic_write_text(_assignment_csv(instances), out / "assignment.csv")
    for a, order in orders.items():
        write_sheet(out / "sheets" / f"{a}.csv", render_sheet(a, order, by_id))
    atomic_write_text(render_page(meta, dump), out / "index.html")
    atomic_write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", out / "eval.json")
    return out, meta


def load(folder: Path) -> tuple[dict[str, Any], list[Instance]]:
    """``eval.json`` and the instances of a sample folder."""
    path = Path(folder) / "eval.json"
    if not path.is_file():
        raise SampleError(f"{folder}: not a human evaluation folder (no eval.json); run `sample`")
    meta = json.loads(path.read_text(encoding="utf-8"))
    raw = json.loads((Path(folder) / "instances.json").read_text(encoding="utf-8"))
    return meta, [Instance.model_validate(x) for x in raw]
