"""``stepstone rank``: rank a hub's sources for a target dataset."""

from __future__ import annotations

import click

from . import configure, main
from .options import (dataset_options, engine_options, hub_option, make_executor,
                      resolve_hub_path, verbosity)


PLOT_SUFFIXES = (".png", ".svg", ".pdf")


class MethodOption(click.Option):
    """``--method``: its help lists the registered methods, read when the help is shown (the
    registry imports the scoring code, which other commands' start-up should not pay for)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from ..rank.registry import DEFAULT_METHODS, families, method_infos

        self.help = ("Ranking method: " + ", ".join(i.name for i in method_infos()) + "; or "
                     + ", ".join(f.example for f in families())
                     + " (README, 'Ranking methods').")
        self.show_default = (DEFAULT_METHODS[0] if len(DEFAULT_METHODS) == 1 else
                             "the first the hub can serve of " + ", ".join(DEFAULT_METHODS))
        return super().get_help_record(ctx)


def _check_method(value: str) -> None:
    """Check the method name and its arguments before any data is read or model loaded (but
    after the target's location: the registry imports torch, a mistyped target must not wait
    for it)."""
    from ..errors import InvalidOptionError
    from ..rank.registry import get_method

    try:
        get_method(value)
    except InvalidOptionError as err:
        raise click.BadParameter(str(err), param_hint="'--method'") from err


def _no_stability_line(method: str, resamples: int) -> str:
    """Why a ranking has no stability columns by default, and how to get them."""
    from ..rank.stability import FAST_METHODS

    return (f"Stability: not computed for {method} by default (only {', '.join(FAST_METHODS)} "
            f"has a fast path); --stability on re-runs it on {resamples} half-samples of the "
            "target (slower)")


def _plot_suffix(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check the plot's format before the (long) ranking runs."""
    if value and not value.lower().endswith(PLOT_SUFFIXES):
        raise click.BadParameter(f"{value!r}: the file name must end in "
                                 f"{', '.join(PLOT_SUFFIXES)}", ctx=ctx, param=param)
    return value


@main.command()
@click.argument("target")
@hub_option
@click.option("--method", cls=MethodOption, default=None)
@click.option("--models", "models_dir", type=click.Path(file_okay=False), envvar="STEPSTONE_MODELS",
              show_envvar=True,
              help="Kept fine-tuned source models (build --keep-models), for logme, leep, nce, "
                   "taskemb.")
@click.option("--diverse", type=click.IntRange(min=1), metavar="K",
              help="Also choose K good sources that are not redundant with each other.")
@click.option("--diversity", type=click.FloatRange(min=0.0), default=0.5, show_default=True,
              help="With --diverse: weight of dissimilarity against score.")
@click.option("--diverse-by", type=click.Choice(["esm", "textemb"]), default="esm",
              show_default=True,
              help="With --diverse: similarity of two sources (ESM-mapped target CKA, or "
                   "cosine of mean source embeddings).")
@click.option("--diverse-objective", type=click.Choice(["mmr", "coverage", "ms-leep"]),
              default="mmr", show_default=True,
              help="With --diverse: MMR heuristic, lazy-greedy coverage (a (1-1/e) guarantee; "
                   "--diversity weighs coverage), or MS-LEEP of the heads (needs --models).")
@click.option("--model", "model_name", help="Base model (default: the hub's).")
@dataset_options
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Rows to print in table format (csv/json hold all).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="Also write the full ranking to this file (.json or .csv).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), callback=_plot_suffix,
              help="Also draw the top 20 as a bar chart into this .png, .svg or .pdf file.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False),
              help="Also write a self-contained HTML report (plot, sortable table, left-out "
                   "ESMs, provenance) to this file.")
@click.option("--include-target", is_flag=True,
              help="Rank the target's own task too when the hub has it.")
@click.option("--advice", type=click.Path(dir_okay=False, exists=True),
              help="Advice model for the gain columns and the recommendation (default: the "
                   "hub's calibration.json, made by `stepstone bench calibrate`).")
@click.option("--no-advice", is_flag=True, help="No gain columns or recommendation.")
@click.option("--resamples", type=click.IntRange(min=1), default=100, show_default=True,
              help="Resamples of the target for the stability columns (share first, rank "
                   "interval, tied with rank 1).")
@click.option("--stability", "stability_mode",
              # rank.stability.StabilityMode's values (tested), spelled out: importing it here
              # would load numpy for every command's --help
              type=click.Choice(["auto", "on", "exact", "off"]), default="auto",
              show_default=True,
              help="auto: for esm-logme (cheap, first-order bootstrap); on: any method (re-runs "
                   "it on half-samples of the target, leading sources only; esm-logme keeps "
                   "its bootstrap); exact: half-samples for every method, esm-logme too "
                   "(slower; how the bootstrap is checked); off: none.")
@click.option("--device", help="torch device (default: cuda if available, else cpu).")
@click.option("--precision", type=click.Choice(["float32", "bfloat16"]), default="float32",
              show_default=True, help="Encoder arithmetic; bfloat16 is ~2.5x faster on CPUs "
              "with AMX/AVX512-BF16 and moves scores by ~1e-4.")
@engine_options
@verbosity
def rank(target: str, hub_path: str | None, method: str | None, models_dir: str | None,
         diverse: int | None, diversity: float, diverse_by: str, diverse_objective: str,
         model_name: str | None,
         text_column: str | None, pair_column: str | None, label_column: str | None,
         task_type: str | None, split: str | None, num_examples: int | None, seed: int,
         top: int, fmt: str, output: str | None, plot_path: str | None,
         html_path: str | None, include_target: bool, advice: str | None,
         no_advice: bool, resamples: int, stability_mode: str, device: str | None,
         precision: str, engine: str, ray_address: str | None, verbose: int,
         quiet: bool) -> None:
    """Rank every source in the hub for TARGET.

    TARGET is a CSV/TSV/JSONL/Parquet file, a pool folder (task.json + splits), a pool task
    name, or a Hugging Face dataset id.
    """
    from .._io import write_text
    from ..data.loaders import check_location

    check_location(target)  # a typo or an unreachable Hub fails before torch is imported
    if method is not None:  # None: the hub's default (rank.registry.DEFAULT_METHODS)
        _check_method(method)  # a typo fails before the target is read or embedded
    configure(verbose, quiet)
    from ..rank import rank_sources
    from ..rank.options import (EmbeddingOptions, ExecutionOptions, SelectionOptions,
                                TargetOptions)

    ranking = rank_sources(
        target, hub=resolve_hub_path(hub_path), method=method,
        data=TargetOptions(text_column=text_column, pair_column=pair_column,
                           label_column=label_column, task_type=task_type, split=split,
                           num_examples=num_examples, seed=seed),
        embedding=EmbeddingOptions(model_name=model_name, device=device, precision=precision),
        selection=SelectionOptions(include_target=include_target, models_dir=models_dir,
                                   diverse=diverse, diversity=diversity, diverse_by=diverse_by,
                                   diverse_objective=diverse_objective,
                                   advice=False if no_advice else advice,
                                   stability=stability_mode, resamples=resamples),
        execution=ExecutionOptions(executor=make_executor(engine, ray_address),
                                   show_progress=False if quiet else None))
    if output:
        if output.endswith(".csv"):
            write_text(output, ranking.to_csv())
        else:
            ranking.to_json(output)
    if plot_path:
        from ..rank.render.plot import save_plot

        save_plot(ranking, plot_path)
    if html_path:
        ranking.to_html(html_path)
    if fmt == "json":
        click.echo(ranking.to_json())
    elif fmt == "csv":
        click.echo(ranking.to_csv(), nl=False)
    else:
        click.echo(_summary(ranking))
        for warning in ranking.warnings:
            click.secho(f"Warning: {warning}", fg="yellow")
        click.echo(ranking.table(top))
        if ranking.stability:
            click.echo(ranking.stability.legend())
        elif stability_mode == "auto" and len(ranking) > 1:
            click.echo(_no_stability_line(ranking.method, resamples))
        if ranking.recommendation:
            click.echo(ranking.recommendation_line())
        if ranking.selected:
            click.echo(ranking.selection_table())
        for s in ranking.excluded + ranking.skipped:
            click.echo(f"left out {s.esm_id}: {s.reason}", err=True)


def _summary(ranking) -> str:
    t = ranking.target
    times = ranking.timings
    return (f"{ranking.method}: {len(ranking)} sources ranked for {t['name']} "
            f"({t['num_examples']} examples, {t['task_type']}) in {times.get('total', 0):.1f} s "
            f"(embedding {times.get('embed', 0):.1f} s, scoring {times.get('score', 0):.2f} s)")
