"""``stepstone bench ...``: ground-truth transfer runs, selection metrics and reports."""

from __future__ import annotations

import shlex
import sys

import click

from . import configure, main
from .options import (grid_named, grid_options, hub_option, resolve_hub_path, results_folder,
                      verbosity)

DEFAULT_METHODS = "all"
#: the registry's tuned per-source methods, written out: importing the registry would slow
#: every command's start-up (tests/bench/test_workers.py checks they agree)
TUNED_METHODS = ("logme", "leep", "nce")


@main.group()
def bench() -> None:
    """Measure how well ranking methods select sources, with real fine-tuning."""


@bench.command()
@grid_options
@click.option("--models", "models_dir", type=click.Path(file_okay=False),
              default="artifacts/models", show_default=True,
              help="Tuned source models (as kept by `stepstone build --keep-models`).")
@click.option("--only-available", is_flag=True,
              help="Skip cells whose source model is not in --models yet (run again later).")
@click.option("--max-cells", type=int, help="Stop after this many cells (resume later).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes over disjoint cells (e.g. one per core); any number of "
              "runs may share a results folder.")
@click.option("--threads", type=click.IntRange(min=1),
              help="torch CPU threads per worker (default: torch's choice with one worker, 1 "
              "with several).")
@click.option("--tuned-methods", default=",".join(TUNED_METHODS), show_default=True,
              help="Methods on tuned source models whose scores are stored for every source "
              "model loaded (comma-separated; empty: none).")
@click.option("--device", help="torch device (default: cuda if available, else cpu).")
@click.option("--from-end", is_flag=True,
              help="Take the pending cells in reverse order: for a second machine (a lent GPU) "
              "on a copy of the results, whose cells `bench merge` brings back.")
@hub_option
@verbosity
def transfer(grid_name: str, results_dir: str | None, models_dir: str, only_available: bool,
             max_cells: int | None, workers: int, threads: int | None, tuned_methods: str,
             device: str | None, from_end: bool, hub_path: str | None, verbose: int,
             quiet: bool) -> None:
    """Fine-tune source -> target for every cell of a grid (resumable, one row per cell)."""
    import torch

    from ..bench import run_transfer

    configure(verbose, quiet)
    if threads and workers == 1:
        torch.set_num_threads(threads)
    grid = grid_named(grid_name)
    run = run_transfer(grid, results_dir=results_folder(results_dir, grid), models_dir=models_dir,
                       device=device, only_available=only_available, max_cells=max_cells,
                       workers=workers, threads=threads,
                       tuned_methods=tuple(m.strip() for m in tuned_methods.split(",")
                                           if m.strip()),
                       hub=resolve_hub_path(hub_path),
                       show_progress=False if quiet else None, from_end=from_end)
    imported = f", {run.imported} taken over from {', '.join(grid.reuses)}" if run.imported \
        else ""
    click.echo(f"finished {len(run.finished)} cells{imported}, {len(run.skipped)} skipped "
               f"(source model missing), {run.remaining} remaining")


@bench.command("tuned-scores")
@grid_options
@click.option("--models", "models_dir", type=click.Path(file_okay=False),
              default="artifacts/models", show_default=True,
              help="Tuned source models kept by `bench transfer`.")
@click.option("--tuned-methods", default=",".join(TUNED_METHODS), show_default=True,
              help="Methods on tuned source models to store (comma-separated).")
@hub_option
@verbosity
def tuned_scores(grid_name: str, results_dir: str | None, models_dir: str, tuned_methods: str,
                 hub_path: str | None, verbose: int, quiet: bool) -> None:
    """Store the tuned-model scores missing from the results (a target refused when the grid
    ran, a method added later) for every source model kept in --models; stored pairs are
    skipped, so it is safe beside running workers and to run again."""
    from ..bench.tuned_scores import fill_tuned_scores
    from ..hub import Hub

    configure(verbose, quiet)
    grid = grid_named(grid_name)
    added = fill_tuned_scores(grid, results_dir=results_folder(results_dir, grid),
                              models_dir=models_dir, hub=Hub(resolve_hub_path(hub_path)),
                              methods=tuple(m.strip() for m in tuned_methods.split(",")
                                            if m.strip()))
    click.echo(f"stored {sum(added.values())} tuned-model scores from {len(added)} kept "
               f"source models of grid {grid.name}"
               + (f" ({', '.join(f'{s}: {n}' for s, n in added.items() if n)})"
                  if any(added.values()) else ""))


@bench.command()
@grid_options
@click.argument("other", type=click.Path(file_okay=False, exists=True))
@verbosity
def merge(grid_name: str, results_dir: str | None, other: str, verbose: int,
          quiet: bool) -> None:
    """Append the grid's cells found in the results folder OTHER (another machine's run, e.g.
    a lent GPU's) that are not done here yet; safe beside running workers."""
    from ..bench.results import ResultsFile, merge_cells

    configure(verbose, quiet)
    grid = grid_named(grid_name)
    count = merge_cells(grid, ResultsFile(results_folder(results_dir, grid)), other)
    click.echo(f"merged {count} cells of grid {grid.name} from {other}")


@bench.command()
@grid_options
@click.option("--models", "models_dir", type=click.Path(file_okay=False),
              default="artifacts/models", show_default=True,
              help="Tuned source models: say which are kept and which a run must tune first.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def status(grid_name: str, results_dir: str | None, models_dir: str, fmt: str) -> None:
    """Cells done and left per source and target, the latest run's rate and the time left."""
    import json

    from ..bench.grid_status import grid_status

    grid = grid_named(grid_name)
    report = grid_status(grid, results_folder(results_dir, grid), models_dir=models_dir)
    click.echo(json.dumps(report.to_dict(), indent=2) if fmt == "json" else report.to_text())


def evaluation_options(func):
    """--hub, --methods, --models and --no-cache: what `evaluate` and `report` rank the grid's
    sources with."""
    func = click.option("--no-cache", "no_cache", is_flag=True,
                        help="Recompute every method's scores instead of reading those kept in "
                        "$STEPSTONE_CACHE/evaluate by earlier evaluations.")(func)
    func = click.option("--models", "models_dir", type=click.Path(file_okay=False),
                        help="Kept tuned source models, for the methods that need them "
                        "(logme, leep, nce, taskemb).")(func)
    func = click.option("--methods", default=DEFAULT_METHODS, show_default=True,
                        help="Ranking methods to evaluate, separated by spaces or ';' (all: "
                        "every method of `stepstone rank`).")(func)
    return hub_option(func)


TABLES = ("overview", "intervals", "paired", "gain-at-k", "fidelity", "summary", "per-target")


@bench.command()
@grid_options
@evaluation_options
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv", "json"]),
              default="markdown", show_default=True)
@click.option("--table", "table_name", type=click.Choice(TABLES), default="overview",
              show_default=True,
              help="overview: intervals, paired comparisons, gain@k and ESM fidelity "
              "(markdown; csv/json give the intervals); summary: means by task type without "
              "intervals.")
@click.option("--per-target", is_flag=True, help="Same as --table per-target.")
@click.option("--replicates", type=click.IntRange(min=0), default=2000, show_default=True,
              help="Bootstrap resamples (targets and seeds) for the intervals; 0: none.")
@verbosity
def evaluate(grid_name: str, results_dir: str | None, hub_path: str | None, methods: str,
             models_dir: str | None, no_cache: bool, fmt: str, table_name: str,
             per_target: bool, replicates: int, verbose: int, quiet: bool) -> None:
    """Regret@1/3/5, NDCG and Spearman of every method with 90 % intervals, ESM-LogME against
    every other method, and the noise ceiling, from the committed ground truth."""
    from ..bench import evaluate_methods
    from ..bench.report_stats import interval_table, paired_table
    from ..bench.tables import markdown_table
    from ..bench.uncertainty import GAIN_METRICS

    configure(verbose, quiet)
    grid = grid_named(grid_name)
    table_name = "per-target" if per_target else table_name
    if table_name in ("overview", "intervals", "paired", "gain-at-k") and not replicates:
        raise click.UsageError(f"--table {table_name} needs --replicates > 0")
    evaluation = evaluate_methods(grid, results_folder(results_dir, grid),
                                  hub=resolve_hub_path(hub_path), methods=_methods(methods),
                                  show_progress=False, rank_options={"models_dir": models_dir},
                                  replicates=replicates, use_cache=not no_cache)
    tables = {"intervals": evaluation.intervals, "paired": evaluation.paired,
              "gain-at-k": evaluation.gain_at_k, "fidelity": evaluation.fidelity,
              "summary": evaluation.summary,
              "per-target": lambda: evaluation.per_target}
    if fmt == "markdown" and table_name == "overview":
        parts = [("Mean over targets [90 % bootstrap interval, targets and seeds resampled]",
                  interval_table(evaluation.intervals())),
                 ("esm-logme minus each method (paired, on the targets both scored)",
                  paired_table(evaluation.paired())),
                 ("gain@k: best of the first k picks minus no transfer (points)",
                  interval_table(evaluation.gain_at_k(), metrics=GAIN_METRICS)),
                 ("ESM fidelity: ESM-LogME vs LogME on the tuned models",
                  evaluation.fidelity())]
        click.echo("\n\n".join(f"{title}\n\n{markdown_table(table)}" for title, table in parts
                                if not table.empty))
        return
    table = tables.get(table_name, evaluation.intervals)()
    if fmt == "csv":
        click.echo(table.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(table.to_json(orient="records", indent=2))
    else:
        click.echo(markdown_table(table))


def evidence_option(func):
    return click.option("--evidence", "evidence_path", type=click.Path(dir_okay=False),
                        help="Where to write the measured gain@k that `stepstone rank` cites "
                        "(default: evidence.json in the hub folder when the grid is complete "
                        "and has at least the targets of the hub's file; else beside the "
                        "results).")(func)


@bench.command()
@grid_options
@evaluation_options
@evidence_option
@verbosity
def report(grid_name: str, results_dir: str | None, hub_path: str | None, methods: str,
           models_dir: str | None, no_cache: bool, evidence_path: str | None, verbose: int,
           quiet: bool) -> None:
    """Write report.md, PNG plots (gains heatmap, regret@k curves, ESM-LogME vs gain),
    report.html (the report with its plots inlined, one file to share) and evidence.json
    (gain@1..5 per method, cited by `stepstone rank`): into the hub only from a complete grid,
    see --evidence."""
    from ..bench import write_report

    configure(verbose, quiet)
    grid, folder, truth, evaluation, command = _evaluated(grid_name, results_dir, hub_path,
                                                          methods, models_dir, no_cache)
    path = write_report(grid, truth, evaluation, folder, command=command)
    click.echo(f"wrote {path} and {path.with_name('report.html')}")
    click.echo(_save_evidence(grid, folder, truth, evaluation, evidence_path, hub_path,
                              command))


def _evaluated(grid_name: str, results_dir: str | None, hub_path: str | None, methods: str,
               models_dir: str | None, no_cache: bool):
    """The grid, its results folder, ground truth, evaluation (with the bootstrap) and the
    command line that asked for them."""
    from ..bench import GroundTruth, ResultsFile, evaluate_methods

    grid = grid_named(grid_name)
    folder = results_folder(results_dir, grid)
    evaluation = evaluate_methods(grid, folder, hub=resolve_hub_path(hub_path),
                                  methods=_methods(methods), show_progress=False,
                                  rank_options={"models_dir": models_dir},
                                  use_cache=not no_cache)
    truth = GroundTruth.from_results(ResultsFile(folder), grid)
    command = "stepstone " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return grid, folder, truth, evaluation, command


def _save_evidence(grid, folder: str, truth, evaluation, path: str | None,
                   hub_path: str | None, command: str) -> str:
    """Write gain@k: into the hub when the grid is complete (bench.evidence.save_evidence)."""
    from ..bench.evidence import evidence_from, save_evidence
    from ..bench.results import ResultsFile
    from ..bench.workers import pending_cells

    return save_evidence(evidence_from(grid, truth, evaluation, command=command),
                         hub_root=resolve_hub_path(hub_path), results_dir=folder,
                         cells_left=len(pending_cells(grid, ResultsFile(folder))), path=path)


@bench.command("evidence")
@grid_options
@evaluation_options
@evidence_option
@verbosity
def evidence_cmd(grid_name: str, results_dir: str | None, hub_path: str | None, methods: str,
                 models_dir: str | None, no_cache: bool, evidence_path: str | None,
                 verbose: int, quiet: bool) -> None:
    """Write the hub's evidence.json: each method's measured gain@1..5 on the grid, with 90 %
    intervals (targets and seeds resampled), which `stepstone rank` cites in its
    recommendation. `bench report` writes it too. A grid with cells left, or with fewer targets than
    the grid of the hub's file, writes it beside its results instead (see --evidence)."""
    configure(verbose, quiet)
    grid, folder, truth, evaluation, command = _evaluated(grid_name, results_dir, hub_path,
                                                          methods, models_dir, no_cache)
    click.echo(_save_evidence(grid, folder, truth, evaluation, evidence_path, hub_path,
                              command))


def _methods(text: str) -> list[str]:
    """Methods separated by spaces or ';' (commas belong to fusion:a,b specs); ``all`` is every
    method of `stepstone rank` plus the fusion of ESM-LogME and TextEmb."""
    from ..rank import available_methods

    names = [m for m in text.replace(";", " ").split() if m]
    if "all" in names:
        everything = [m for m in available_methods() if not m.endswith(":...")]
        names = everything + ["fusion:esm-logme,textemb"] + [n for n in names if n != "all"]
    return list(dict.fromkeys(names))
