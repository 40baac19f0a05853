"""``stepstone transfer``: fine-tune through the leading sources on the target, keep the best."""

from __future__ import annotations

import re

import click

from . import configure, main
from .options import hub_option, resolve_hub_path, verbosity

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600}


def parse_duration(ctx: click.Context | None, param: click.Parameter | None,
                   value: str | None) -> float | None:
    """'90m', '2h', '1h30m', '45s' or plain seconds -> seconds."""
    if value is None:
        return None
    text = value.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(h|min|m|s)", text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text.replace(" ", ""):
        raise click.BadParameter(f"{value!r}: give a duration such as 45m, 2h, 1h30m or "
                                 "seconds", ctx=ctx, param=param)
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _seeds(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    text = value.strip()
    if re.fullmatch(r"\d+", text):  # a count: 42, 43, ... as the benchmark grids use
        return tuple(range(42, 42 + int(text)))
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: a count (3) or a list (42,43,44)") from None
    if len(set(seeds)) != len(seeds) or not seeds:
        raise click.BadParameter(f"{value!r}: seeds must be distinct")
    return seeds


@main.command()
@click.argument("target")
@hub_option
@click.option("--top", type=click.IntRange(min=1), default=3, show_default=True,
              help="Candidates: the first K sources of a fresh ESM-LogME ranking.")
@click.option("--ranking", "ranking_path", type=click.Path(dir_okay=False, exists=True),
              help="Candidates: the first --top sources of this ranking (`rank -o FILE.json`).")
@click.option("--sources", help="Candidates: these sources (comma-separated hub ids, pool task "
              "names or dataset paths).")
@click.option("--seeds", default="3", show_default=True, callback=_seeds,
              help="Seeds per candidate at most: a count (42, 43, ...) or a list.")
@click.option("--budget", callback=parse_duration,
              help="Wall-time budget (e.g. 45m, 2h): no fine-tuning starts that would end "
                   "after it.")
@click.option("--work", "work_dir", type=click.Path(file_okay=False),
              help="Folder for result rows, kept models and reports; run again with the same "
                   "folder to resume (default: transfer-<target>).")
@click.option("--models", "models_dir", type=click.Path(file_okay=False),
              envvar="STEPSTONE_MODELS", show_envvar=True,
              help="Kept source models (build --keep-models) reused, new ones kept (default: "
                   "<work>/source-models).")
@click.option("--output", "-o", type=click.Path(file_okay=False),
              help="The chosen model's folder (default: <work>/model).")
@click.option("--text-column", help="Column with the text (default: guessed).")
@click.option("--pair-column", help="Column with the second text of pairs.")
@click.option("--label-column", help="Column with the label (default: guessed).")
@click.option("--task-type", type=click.Choice(["classification", "regression"]),
              help="Override the type inferred from the labels.")
@click.option("--num-examples", type=click.IntRange(min=1),
              help="Fine-tune on a seeded sample of this many target examples (default: all).")
@click.option("--eval-examples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Evaluate on at most this many examples.")
@click.option("--holdout", type=click.FloatRange(0.05, 0.5), default=0.2, show_default=True,
              help="Without a validation split: the stratified part of the training data held "
                   "out for evaluation.")
@click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Epochs of each target fine-tuning.")
@click.option("--learning-rate", type=float, default=1e-4, show_default=True,
              help="Learning rate of each target fine-tuning (1e-4 suits MiniLM).")
@click.option("--source-examples", type=click.IntRange(min=1),
              help="Quick look: fine-tune sources on at most this many examples instead of "
                   "their ESM's recipe.")
@click.option("--source-epochs", type=click.IntRange(min=1),
              help="Quick look: epochs of each source fine-tuning instead of the ESM's.")
@click.option("--device", help="torch device (default: cuda if available, else cpu).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--html", "html_path", type=click.Path(dir_okay=False),
              help="Also write the HTML report here (one is always in the work folder).")
@verbosity
def transfer(target: str, hub_path: str | None, top: int, ranking_path: str | None,
             sources: str | None, seeds: tuple[int, ...], budget: float | None,
             work_dir: str | None, models_dir: str | None, output: str | None,
             text_column: str | None, pair_column: str | None, label_column: str | None,
             task_type: str | None, num_examples: int | None, eval_examples: int,
             holdout: float, epochs: int, learning_rate: float, source_examples: int | None,
             source_epochs: int | None, device: str | None, fmt: str, html_path: str | None,
             verbose: int, quiet: bool) -> None:
    """Fine-tune through the leading sources and without one on TARGET; keep the best model.

    Prints a time estimate first, then one progress bar per fine-tuning; the answer is a table
    (or JSON) of every candidate's score over seeds and gain over no intermediate step, and the
    chosen model is written as a Hugging Face model folder. Stopped at any point, the same
    command resumes where it stopped.
    """
    from ..data.loaders import check_location, task_name

    check_location(target)  # a typo fails before torch is imported
    if sources and ranking_path:
        raise click.UsageError("give --sources or --ranking, not both")
    configure(verbose, quiet)
    from ..finetune.train import FineTuneConfig
    from ..hub.hub import slugify
    from ..transfer import TransferSettings
    from ..transfer import transfer as run_transfer

    settings = TransferSettings(
        seeds=seeds, num_examples=num_examples, eval_examples=eval_examples, holdout=holdout,
        finetune=FineTuneConfig(epochs=epochs, learning_rate=learning_rate),
        source_examples=source_examples, source_epochs=source_epochs)
    columns = {k: v for k, v in {"text_column": text_column, "pair_column": pair_column,
                                 "label_column": label_column, "task_type": task_type}.items()
               if v is not None}
    result = run_transfer(
        target, sources=[s.strip() for s in sources.split(",") if s.strip()] if sources else None,
        ranking=ranking_path, top=top, hub=resolve_hub_path(hub_path),
        work_dir=work_dir or f"transfer-{slugify(task_name(target))}", models_dir=models_dir,
        output=output, settings=settings, budget=budget, columns=columns, device=device,
        show_progress=False if quiet else None,
        on_message=lambda text: click.echo(text, err=True))
    if html_path:
        result.to_html(html_path)
    if fmt == "json":
        click.echo(result.to_json())
        return
    click.echo(result.summary_line())
    click.echo(result.table())
    for c in result.candidates:
        if c.error:
            click.secho(f"Warning: {c.error}", fg="yellow", err=True)
    click.echo(f"Stopped: {result.stopped}")
    if result.model_path:
        click.echo(f"Model: {result.model_path} (seed {result.model_seed}, {result.metric} "
                   f"{result.model_score:.4f}); report: {result.work_dir}/report.html")
