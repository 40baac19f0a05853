"""The ``stepstone`` command line: a thin layer that parses options, calls the API and prints."""

from __future__ import annotations

import logging
import sys

import click

from .. import __version__
from .._progress import set_progress_bars
from ..errors import StepstoneError


class StepstoneGroup(click.Group):
    """Turns stepstone errors into one clear line and exit code 1 (no traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StepstoneError as err:
            click.secho(f"Error: {err}", fg="red", err=True)
            sys.exit(1)


def configure(verbose: int, quiet: bool) -> None:
    """Logging and progress bars for an interactive run; quiet third-party chatter."""
    level = logging.WARNING - 10 * verbose if not quiet else logging.ERROR
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("stepstone").setLevel(max(level, logging.DEBUG))
    if quiet:
        set_progress_bars(False)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


@click.group(cls=StepstoneGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stepstone")
def main() -> None:
    """Rank source datasets for intermediate fine-tuning with Embedding Space Maps."""


from . import (bench_cmd, build_cmd, calibrate_cmd, hub_cmd, pack_cmd,  # noqa: E402  (register)
               rank_cmd, transfer_cmd)

__all__ = ["main", "bench_cmd", "build_cmd", "calibrate_cmd", "hub_cmd", "pack_cmd", "rank_cmd",
           "transfer_cmd"]
