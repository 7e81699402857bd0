"""``humanllm human-eval sample`` and ``humanllm human-eval score``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    name="human-eval",
    help="Human evaluation of the synthesized data (paper, Appendix A.4): sample instances by "
    "stratum with a balanced annotator assignment, rate them on a page or in CSV sheets, score "
    "the agreement (Krippendorff's alpha).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _invalid(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(x) for x in x['loc']) or 'settings'}: {x['msg']}" for x in e.errors()
    )


@app.command("sample")
def sample_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder whose genome/ is finished.")],
    n: Annotated[int, typer.Option("--n", help="Instances to sample (the paper: 120).")] = 120,
    annotators: Annotated[
        int, typer.Option("--annotators", help="Number of annotators, named a1, a2, ...")
    ] = 3,
    per_item: Annotated[
        int, typer.Option("--per-item", help="Annotators who rate each instance.")
    ] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample and the assignment.")] = 0,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Folder under RUN/human_eval/ (default: n<N>-seed<S>)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing sample of that name.")
    ] = False,
) -> None:
    """Draw a stratified sample (source x kind: persona/profile/stories, scenario, social QA) of the genome, each instance with the source records it was made from, and assign annotators so that each pair rates equally many instances.

    Writes RUN/human_eval/NAME/: index.html (the rating page; open it from the file system, no network needed, or under `humanllm serve --run-dir RUN` at /human-eval/NAME/), sheets/<annotator>.csv, assignment.csv, instances.json and eval.json.
    """
    from humanllm.humaneval.instances import GenomeMissing
    from humanllm.humaneval.sample import SampleConfig, SampleError, sample

    try:
        cfg = SampleConfig(
            n=n, annotators=annotators, per_item=per_item, seed=seed, name=name or ""
        )
    except ValidationError as e:
        _fail(_invalid(e))
    err.print(f"sampling {cfg.n} instances from {run_dir / 'genome'} (seed {cfg.seed})")
    try:
        out, meta = sample(run_dir, cfg, force=force)
    except (SampleError, GenomeMissing) as e:
        _fail(str(e))
    out_console = Console()
    table = Table(title="Allocation (proportional, at least one per stratum)")
    for col in ("stratum", "available", "sampled"):
        table.add_column(col, justify="left" if col == "stratum" else "right")
    for stratum, row in meta["allocation"].items():
        table.add_row(escape(stratum), str(row["available"]), str(row["sampled"]))
    table.add_row(
        "total",
        str(sum(r["available"] for r in meta["allocation"].values())),
        str(meta["n_instances"]),
        style="bold",
    )
    out_console.print(table)
    pairs = Table(title=f"Assignment ({cfg.per_item} annotators per instance)")
    pairs.add_column("annotators")
    pairs.add_column("instances", justify="right")
    for subset, count in meta["subset_counts"].items():
        pairs.add_row(subset, str(count))
    out_console.print(pairs)
    loads = ", ".join(f"{a}: {k}" for a, k in meta["per_annotator"].items())
    out_console.print(f"instances per annotator: {loads}")
    if meta["n_instances"] < cfg.n:
        err.print(
            f"[yellow]only {meta['n_instances']} instances in the genome (asked {cfg.n})[/yellow]"
        )
    err.print(f"wrote {out}/index.html (the page), {out}/sheets/*.csv, assignment.csv")
    err.print(
        f"next: rate, save each annotator's sheet as {out}/sheets/<annotator>.csv, then "
        f"`humanllm human-eval score {out}`",
        highlight=False,
    )


@app.command("score")
def score_cmd(
    folder: Annotated[
        Path, typer.Argument(help="A sample folder, RUN/human_eval/NAME, with filled sheets/*.csv.")
    ],
    n_boot: Annotated[
        int, typer.Option("--n-boot", help="Bootstrap resamples for the alpha intervals (0: none).")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
) -> None:
    """Check the sheets against the assignment and score them: mean per scale and per stratum, Krippendorff's alpha (ordinal and interval; per scale and over both) with a bootstrap 95% interval, the share of instances whose two ratings differ by 2 or more.

    Writes FOLDER/scores.json, FOLDER/report.md and FOLDER/figures/ratings.png. A sheet with a missing row, a rating outside 1-5, an unknown instance id or an annotator not in the assignment is an error naming the file and row.
    """
    from humanllm.humaneval.sample import SampleError
    from humanllm.humaneval.score import ScoreConfig, score
    from humanllm.humaneval.sheets import SheetError

    try:
        cfg = ScoreConfig(n_boot=n_boot, seed=seed)
    except ValidationError as e:
        _fail(_invalid(e))
    err.print(f"scoring {folder / 'sheets'} ({cfg.n_boot} bootstrap resamples, seed {cfg.seed})")
    try:
        scores, written = score(folder, cfg)
    except (SheetError, SampleError) as e:
        _fail(str(e))
    out = Console()
    table = Table(
        title=f"Human evaluation {escape(scores.name)}: {scores.n_instances} instances, mean {scores.mean:.2f}"
    )
    for col in (
        "scale",
        "mean",
        "alpha ordinal [95% CI]",
        "alpha interval [95% CI]",
        "differ by >= 2",
    ):
        table.add_column(col, justify="left" if col == "scale" else "right")
    from humanllm.humaneval.report import alpha_text, scale_title

    for s, sc in scores.scales.items():
        table.add_row(
            scale_title(s),
            f"{sc.mean:.2f}",
            alpha_text(sc.alpha["ordinal"]),
            alpha_text(sc.alpha["interval"]),
            f"{sc.disagree_2plus:.1%}",
        )
    table.add_row(
        "both scales",
        f"{scores.mean:.2f}",
        alpha_text(scores.alpha["ordinal"]),
        alpha_text(scores.alpha["interval"]),
        "",
        style="bold",
    )
    out.print(table)
    strata = Table(title="Per stratum")
    strata.add_column("stratum")
    strata.add_column("instances", justify="right")
    for s in scores.scales:
        strata.add_column(f"{s} mean", justify="right")
    for name, st in scores.strata.items():
        strata.add_row(escape(name), str(st.n_instances), *(f"{v:.2f}" for v in st.means.values()))
    out.print(strata)
    for path in written:
        err.print(f"wrote {path}", highlight=False)
