"""``stepstone hub ...``: list, show, verify and maintain a hub."""

from __future__ import annotations

import json

import click

from . import configure, main
from .options import hub_option, resolve_hub_path, verbosity


@main.group()
def hub() -> None:
    """Inspect and maintain an ESM hub."""


def _open(hub_path: str | None):
    from ..hub import Hub

    return Hub(resolve_hub_path(hub_path))


@hub.command("list")
@hub_option
@click.option("--base-model", help="Only ESMs for this base model.")
@click.option("--task-type", type=click.Choice(["classification", "regression"]))
@click.option("--min-examples", type=int, help="Only sources with at least this many examples.")
@click.option("--max-examples", type=int, help="Only sources with at most this many examples.")
@click.option("--name", help="Glob on the ESM id or task name, e.g. 'tweeteval_*'.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@verbosity
def list_(hub_path: str | None, base_model: str | None, task_type: str | None,
          min_examples: int | None, max_examples: int | None, name: str | None, fmt: str,
          verbose: int, quiet: bool) -> None:
    """List the hub's ESMs."""
    import pandas as pd

    configure(verbose, quiet)
    entries = _open(hub_path).entries(base_model=base_model, task_type=task_type,
                                      min_examples=min_examples, max_examples=max_examples,
                                      name=name)
    columns = ["id", "task_type", "num_classes", "num_examples", "fit_cosine", "base_model"]
    frame = pd.DataFrame([{c: getattr(e, c) for c in columns} for e in entries], columns=columns)
    if fmt == "json":
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
    elif fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    else:
        click.echo(frame.to_string(index=False) if len(frame) else "(no ESMs)")
        click.echo(f"{len(entries)} ESMs")


@hub.command()
@click.argument("esm_id")
@hub_option
@verbosity
def show(esm_id: str, hub_path: str | None, verbose: int, quiet: bool) -> None:
    """Show one ESM's config and fit quality."""
    configure(verbose, quiet)
    store = _open(hub_path)
    entry = store.entry(esm_id)
    esm = store.get(esm_id)
    click.echo(json.dumps({"id": entry.id, "path": str(entry.path),
                           "weight_shape": list(esm.weight.shape),
                           "weight_dtype": str(esm.weight.dtype), "config": entry.config},
                          indent=2))


@hub.command()
@hub_option
@click.option("--repair", is_flag=True,
              help="Remove leftovers of interrupted writes and re-sync the catalog.")
@verbosity
def verify(hub_path: str | None, repair: bool, verbose: int, quiet: bool) -> None:
    """Load every ESM and check the catalog against the folders (exit 1 on problems)."""
    configure(verbose, quiet)
    report = _open(hub_path).verify(repair=repair)
    for line in report.problems:
        click.echo(f"problem: {line}")
    for line in report.repaired:
        click.echo(f"repaired: {line}")
    click.echo(f"checked {report.checked} ESMs: {'ok' if report.ok else 'problems found'}")
    if not report.ok and not repair:
        raise SystemExit(1)


@hub.command()
@click.argument("esm_ids", nargs=-1, required=True)
@hub_option
@verbosity
def remove(esm_ids: tuple[str, ...], hub_path: str | None, verbose: int, quiet: bool) -> None:
    """Remove ESMs from the hub."""
    configure(verbose, quiet)
    store = _open(hub_path)
    for esm_id in esm_ids:
        store.remove(esm_id)
        click.echo(f"removed {esm_id}")


@hub.command("rebuild-catalog")
@hub_option
@verbosity
def rebuild_catalog(hub_path: str | None, verbose: int, quiet: bool) -> None:
    """Re-index every ESM folder (the folders are the source of truth)."""
    configure(verbose, quiet)
    click.echo(f"catalogued {_open(hub_path).rebuild_catalog()} ESMs")
