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
    # regression sources have no class count; keep the column integral instead of 3.0 / NaN
    frame["num_classes"] = frame["num_classes"].astype("Int64")
    if fmt == "json":
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
    elif fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    else:
        shown = frame.astype(object).where(frame.notna(), "-")
        click.echo(shown.to_string(index=False) if len(frame) else "(no ESMs)")
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


@hub.command()
@click.option("--hub", "hub_path", type=click.Path(file_okay=False), required=True,
              help="Hub folder to add the ESMs to (created if missing).")
@click.option("--base-model", required=True,
              help="Base model whose ESMs to pull, e.g. bert-base-multilingual-uncased.")
@click.option("--filter", "filters", multiple=True,
              help="Extra Hub tag the repos must have (repeatable), e.g. 'dataset:imdb'.")
@click.option("--search", help="Only repos whose id contains this text.")
@click.option("--author", help="Only repos of this user or organisation.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many repos.")
@click.option("--repo", "repo_ids", multiple=True,
              help="Pull these repo ids instead of searching (repeatable).")
@click.option("--dry-run", is_flag=True, help="Only list the repos that would be pulled.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@verbosity
def pull(hub_path: str, base_model: str, filters: tuple[str, ...], search: str | None,
         author: str | None, limit: int | None, repo_ids: tuple[str, ...], dry_run: bool,
         fmt: str, verbose: int, quiet: bool) -> None:
    """Download ESMs from the Hugging Face Hub (hfselect's tags) into a hub.

    Files go to the standard HF cache; each ESM is checked and added with its repo id and
    revision. With HF_HUB_OFFLINE=1 the ESMs already in the HF cache are used.
    """
    from ..hub import Hub, pull_esms

    configure(verbose, quiet)
    report = pull_esms(Hub(hub_path, create=True), base_model, filters=filters, search=search,
                       author=author, limit=limit, repo_ids=repo_ids, dry_run=dry_run)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(f"ESMs for {base_model} from {report.source}:")
        for r in report.results:
            note = f"  {r.message}" if r.message else ""
            click.echo(f"{r.status:>9}  {r.esm_id}  ({r.repo_id} @ {(r.revision or 'main')[:10]})"
                       f"{note}")
        counts = ", ".join(f"{s} {report.count(s)}" for s in
                           ("added", "updated", "unchanged", "found", "failed") if report.count(s))
        click.echo(f"{len(report.results)} ESM repos: {counts or 'none found'}")
    if report.count("failed"):
        raise SystemExit(1)


def _publish_options(func):
    options = [
        click.option("--task-id", help="Dataset id for the card (default: the ESM's task_id)."),
        click.option("--base-model-id",
                     help="Hub id of the base model, when the ESM names a local folder."),
        click.option("--license", "license_", default="apache-2.0", show_default=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@hub.command()
@click.argument("esm_id")
@click.option("--repo-id", required=True, help="Target repo, e.g. me/ESM_my_dataset.")
@hub_option
@click.option("--private", is_flag=True, help="Create the repo as private.")
@click.option("--token", envvar="HF_TOKEN", help="Hugging Face token (default: $HF_TOKEN or "
                                                  "the saved login).")
@_publish_options
@verbosity
def push(esm_id: str, repo_id: str, hub_path: str | None, private: bool, token: str | None,
         task_id: str | None, base_model_id: str | None, license_: str, verbose: int,
         quiet: bool) -> None:
    """Publish an ESM to the Hugging Face Hub with an hfselect-compatible model card."""
    from ..hub import push_esm

    configure(verbose, quiet)
    url = push_esm(_open(hub_path), esm_id, repo_id, private=private, token=token,
                   task_id=task_id, base_model_id=base_model_id, license=license_)
    click.echo(f"pushed {esm_id} to {url}")


@hub.command()
@click.argument("esm_id")
@click.argument("folder", type=click.Path(file_okay=False))
@hub_option
@_publish_options
@verbosity
def export(esm_id: str, folder: str, hub_path: str | None, task_id: str | None,
           base_model_id: str | None, license_: str, verbose: int, quiet: bool) -> None:
    """Write an ESM as a Hub-ready folder (config.json, model.safetensors, README.md)."""
    from ..hub import export_esm

    configure(verbose, quiet)
    out = export_esm(_open(hub_path), esm_id, folder, task_id=task_id,
                     base_model_id=base_model_id, license=license_)
    click.echo(f"wrote {out}")


@hub.command("add-domain-stats")
@hub_option
@click.option("--max-examples", type=click.IntRange(min=2), default=2000, show_default=True,
              help="Seeded sub-sample of each source's ESM training sample to embed.")
@click.option("--rank", type=click.IntRange(min=1), default=64, show_default=True,
              help="Eigenpairs of each source's covariance to store.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--overwrite", is_flag=True, help="Refit sources that already have statistics.")
@click.option("--id", "ids", multiple=True, help="Only this ESM id (repeatable).")
@verbosity
def add_domain_stats_cmd(hub_path: str | None, max_examples: int, rank: int, seed: int,
                         overwrite: bool, ids: tuple[str, ...], verbose: int,
                         quiet: bool) -> None:
    """Store a Gaussian fit of each source's base embeddings (for --method domain-divergence).

    Re-draws the sample each ESM was trained on from the source recorded in its config and
    embeds it with the base model; nothing is fine-tuned again. Resumable: sources that already
    have the statistics are skipped.
    """
    from ..build.domain_stats import add_domain_stats

    configure(verbose, quiet)
    report = add_domain_stats(_open(hub_path), max_examples=max_examples, rank=rank, seed=seed,
                              overwrite=overwrite, ids=list(ids) or None)
    for esm_id, status in report.status.items():
        click.echo(f"{status:>7}  {esm_id}  {report.messages.get(esm_id, '')}")
    click.echo(f"added {report.count('added')}, skipped {report.count('skipped')}, "
               f"failed {report.count('failed')}")
    if report.count("failed"):
        raise SystemExit(1)
