"""`stepstone bench calibrate`: fit the advice model and the learned selector on a grid's
measured transfers (kept apart from the grid and report commands of :mod:`.bench_cmd`)."""

from __future__ import annotations

import shlex
import sys

import click

from . import configure
from .bench_cmd import bench
from .options import (grid_named, grid_options, hub_option, resolve_hub_path, results_folder,
                      verbosity)


@bench.command()
@grid_options
@hub_option
@click.option("--method", default="esm-logme", show_default=True,
              help="The ranking method whose rankings the advice model reads.")
@click.option("--features", help="Comma-separated advice features among z_score, margin_z, "
              "textemb, fit_cosine, log_source_size, log_target_size, regression (default: "
              "z_score,margin_z,regression,log_target_size; constant ones are dropped).")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="Model file (default: calibration.json in the hub folder).")
@click.option("--no-evaluate", is_flag=True,
              help="Skip the leave-one-target-out evaluation of the advice.")
@click.option("--selector/--no-selector", default=True, show_default=True,
              help="Also fit the learned selector (`--method learned`) and write selector.json "
              "next to the hub, with its leave-one-target-out evaluation (selector.md).")
@verbosity
def calibrate(grid_name: str, results_dir: str | None, hub_path: str | None, method: str,
              features: str | None, output: str | None, no_evaluate: bool, selector: bool,
              verbose: int, quiet: bool) -> None:
    """Fit the advice model (predicted gain, recommendation) of a hub on a grid's measured
    transfers and write it next to the hub; print its leave-one-target-out quality. With
    --selector (default) also fit the learned selector."""
    from ..bench.calibrate import (advice_quality, calibration_cells, fit_advice,
                                   leave_one_target_out, quality_markdown)
    from ..hub import Hub
    from ..rank.advice import ADVICE_FILE, DEFAULT_FEATURES

    configure(verbose, quiet)
    grid = grid_named(grid_name)
    folder = results_folder(results_dir, grid)
    hub = Hub(resolve_hub_path(hub_path))
    names = [f.strip() for f in features.split(",") if f.strip()] if features \
        else list(DEFAULT_FEATURES)
    cells = calibration_cells(grid, folder, hub, method=method, show_progress=False)
    model = fit_advice(cells, grid=grid, hub=hub, method=method, features=names)
    if not no_evaluate:
        quality = advice_quality(leave_one_target_out(cells, names))
        model.evaluation = quality
        command = "stepstone " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        text = f"# Advice quality: grid `{grid.name}`\n\n```bash\n{command}\n```\n\n" \
            + quality_markdown(quality)
        from .._io import write_text

        write_text(f"{folder}/advice.md", text)
        click.echo(quality_markdown(quality))
    path = model.save(output or hub.root / ADVICE_FILE)
    click.echo(f"wrote {path} ({len(model.cells)} cells of {len(model.targets)} targets; "
               f"features {', '.join(model.features)}"
               + (f"; constant, left out: {', '.join(model.dropped)}" if model.dropped else "")
               + ")")
    if selector:
        _fit_selector(grid, folder, hub)


def _fit_selector(grid, folder: str, hub) -> None:
    """Fit, evaluate and write the learned selector (selector.json beside the hub)."""
    from .._io import write_text
    from ..bench.calibrate import advice_quality
    import pandas as pd

    from ..bench.selector import (POLICIES_FILE, advice_loto, fit_selector, has_skill,
                                  selector_cells, selector_markdown)
    from ..rank.methods.learned import FILE_NAME

    cells = selector_cells(grid, folder, hub, show_progress=False)
    model = fit_selector(cells, grid=grid, hub=hub, model_name=_hub_model_name(hub))
    quality = advice_quality(advice_loto(cells, kind=model.kind))
    model.evaluation["advice"] = {**quality, "skill": has_skill(quality)}
    text = selector_markdown(model)
    write_text(f"{folder}/selector.md", f"# Learned selector: grid `{grid.name}`\n\n{text}")
    write_text(f"{folder}/{POLICIES_FILE}",
               pd.DataFrame(model.evaluation["policies"]).to_csv(index=False))
    click.echo(text)
    path = model.save(hub.root / FILE_NAME)
    click.echo(f"wrote {path} ({model.cells} cells of {len(model.targets)} targets)")


def _hub_model_name(hub) -> str:
    """The base model the hub's ESMs were made for."""
    entries = hub.entries()
    if not entries:
        raise click.UsageError(f"hub {hub.root} has no ESMs")
    return entries[0].base_model
