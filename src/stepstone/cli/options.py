"""Options shared by several commands."""

from __future__ import annotations

import functools
from collections.abc import Callable

import click

from .._env import default_hub_path


def verbosity(func: Callable) -> Callable:
    func = click.option("-q", "--quiet", is_flag=True, help="No progress bars or warnings.")(func)
    return click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")(func)


def hub_option(func: Callable) -> Callable:
    return click.option("--hub", "hub_path", type=click.Path(file_okay=False),
                        default=None, show_default="bundled all-MiniLM-L6-v2 hub or $STEPSTONE_HUB",
                        help="Hub folder.")(func)


def dataset_options(func: Callable) -> Callable:
    """Column, type, split and sampling options for reading a dataset."""
    options = [
        click.option("--text-column", help="Column with the text (default: guessed)."),
        click.option("--pair-column", help="Column with the second text of pairs."),
        click.option("--label-column", help="Column with the label (default: guessed)."),
        click.option("--task-type", type=click.Choice(["classification", "regression"]),
                     help="Override the type inferred from the labels."),
        click.option("--split", help="Split of a pool folder or HF dataset (default: train)."),
        click.option("--num-examples", type=click.IntRange(min=1),
                     help="Use a seeded random sample of this many examples."),
        click.option("--seed", type=int, default=42, show_default=True,
                     help="Seed of the sample."),
    ]
    return functools.reduce(lambda f, opt: opt(f), reversed(options), func)


def grid_options(func: Callable) -> Callable:
    """--grid and --results of the ``bench`` commands."""
    func = click.option("--results", "results_dir", type=click.Path(file_okay=False),
                        help="Results folder (default: benchmarks/results/<grid>).")(func)
    return click.option("--grid", "grid_name", default="reduced", show_default=True,
                        help="Grid name (reduced, medium, large, full) or a JSON grid file.")(func)


def grid_named(grid_name: str):
    """The grid ``--grid`` names, checked against the dataset pool found here."""
    from .._env import dataset_pool_dirs
    from ..bench import load_grid

    pools = dataset_pool_dirs()
    pool = sorted(p.name for p in pools[0].iterdir() if (p / "task.json").is_file()) \
        if pools else None
    return load_grid(grid_name, pool=pool)


def results_folder(results_dir: str | None, grid) -> str:
    """``--results``, or the grid's committed results folder."""
    return results_dir or f"benchmarks/results/{grid.name}"


def resolve_hub_path(hub_path: str | None) -> str:
    return hub_path or str(default_hub_path())


def engine_options(func: Callable) -> Callable:
    """--engine and --ray-address; returns an executor via :func:`make_executor`."""
    func = click.option("--ray-address", help="Ray cluster to join (e.g. auto, "
                        "ray://head:10001); default: a local Ray.")(func)
    return click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
                        show_default=True, help="Run jobs here, or on Ray "
                        "(pip install 'stepstone[ray]').")(func)


def make_executor(engine: str, ray_address: str | None):
    from ..engines import get_executor

    if engine == "local" and ray_address:
        raise click.UsageError("--ray-address needs --engine ray")
    return get_executor(engine, address=ray_address)
