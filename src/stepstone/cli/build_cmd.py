"""``stepstone build``: fine-tune on sources and add their ESMs to a hub."""

from __future__ import annotations

from pathlib import Path

import click

from . import configure, main
from .options import engine_options, make_executor, verbosity


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--hub", "hub_path", type=click.Path(file_okay=False), required=True,
              help="Hub folder to add the ESMs to (created if missing).")
@click.option("--pool", type=click.Path(exists=True, file_okay=False),
              help="Also build every task folder (with task.json) in this pool folder.")
@click.option("--model", "model_name", default=None, help="Base model (default: all-MiniLM-L6-v2).")
@click.option("--num-examples", type=int, default=4000, show_default=True,
              help="Source examples to fine-tune on and fit the ESM with (0 = all).")
@click.option("--held-out", type=int, default=500, show_default=True,
              help="Source examples kept aside to measure the ESM's fit.")
@click.option("--epochs", type=int, default=2, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--learning-rate", type=float, default=1e-4, show_default=True,
              help="Fine-tuning learning rate (the paper: 2e-5 for BERT-base, see README).")
@click.option("--fit", "fit_method", type=click.Choice(["closed-form", "sgd"]),
              default="closed-form", show_default=True,
              help="ESM fitter: exact ridge solution, or hfselect's SGD recipe.")
@click.option("--weight-dtype", type=click.Choice(["float16", "float32"]), default="float16",
              show_default=True, help="Storage precision of ESM weights.")
@click.option("--keep-models", type=click.Path(file_okay=False),
              help="Keep each tuned model in this folder (reused on resume and by benchmarks).")
@click.option("--overwrite", is_flag=True, help="Rebuild sources already in the hub.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--device", help="torch device (default: cuda if available, else cpu).")
@click.option("--report", type=click.Path(dir_okay=False),
              help="Write the build report (JSON), updated after each source.")
@engine_options
@verbosity
def build(sources: tuple[str, ...], hub_path: str, pool: str | None, model_name: str | None,
          num_examples: int, held_out: int, epochs: int, batch_size: int, learning_rate: float,
          fit_method: str, weight_dtype: str, keep_models: str | None, overwrite: bool,
          seed: int, device: str | None, report: str | None, engine: str,
          ray_address: str | None, verbose: int, quiet: bool) -> None:
    """Build ESMs for SOURCES (files, pool folders, pool names or HF ids) into a hub.

    Sources already in the hub are skipped, so an interrupted build resumes where it stopped.
    With --engine ray every source is a Ray task (a GPU each when the cluster has them); only
    this process writes the hub.
    """
    from .._env import DEFAULT_MODEL
    from .._io import write_json
    from ..esm.fit import FitMethod
    from ..finetune import FineTuneConfig
    from ..build import BuildConfig, build_hub
    from ..hub import Hub

    configure(verbose, quiet)
    all_sources = list(sources) + (_pool_tasks(Path(pool)) if pool else [])
    if not all_sources:
        raise click.UsageError("give SOURCES or --pool")
    config = BuildConfig(model_name=model_name or DEFAULT_MODEL,
                         num_examples=num_examples or None, held_out=held_out, seed=seed,
                         finetune=FineTuneConfig(epochs=epochs, batch_size=batch_size,
                                                 learning_rate=learning_rate, seed=seed),
                         fit=FitMethod.parse(fit_method), weight_dtype=weight_dtype,
                         device=device)
    result = build_hub(all_sources, Hub(hub_path, create=True), config=config,
                       models_dir=keep_models, overwrite=overwrite,
                       executor=make_executor(engine, ray_address),
                       show_progress=False if quiet else None,
                       on_result=(lambda so_far: write_json(report, so_far.to_dict())) if report
                       else None)
    for r in result.results:
        cosine = r.fit.get("cosine")
        detail = f"held-out cosine {cosine:.4f}" if cosine is not None else r.message
        if r.reused_model:
            detail += ", kept tuned model reused"
        click.echo(f"{r.status:>8}  {r.esm_id or r.source}  {detail}  ({r.seconds:.0f} s)")
    click.echo(f"built {result.count('built')}, skipped {result.count('skipped')}, "
               f"failed {result.count('failed')}, locked {result.count('locked')}")
    if result.count("failed"):
        raise SystemExit(1)


def _pool_tasks(pool: Path) -> list[str]:
    return sorted(str(p) for p in pool.iterdir() if (p / "task.json").is_file())
