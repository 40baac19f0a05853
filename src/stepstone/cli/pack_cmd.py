"""``stepstone hub pack``: stack a hub's ESMs into one file so ranking reads blocks."""

from __future__ import annotations

import collections

import click

from . import configure
from .hub_cmd import hub
from .options import hub_option, resolve_hub_path, verbosity


@hub.command("pack")
@hub_option
@click.option("--dim", type=int, help="Embedding size to pack (default: the most common).")
@click.option("--force", is_flag=True, help="Rebuild even when the pack is up to date.")
@verbosity
def pack(hub_path: str | None, dim: int | None, force: bool, verbose: int, quiet: bool) -> None:
    """Build (or refresh) the hub's pack of ESMs.

    Ranking does this by itself when the hub changed; run it after a build to keep that time
    out of the first ranking. ESMs that fail the checks are listed and left out of the pack.
    """
    from ..errors import HubError
    from ..hub import Hub
    from ..hub.packed import ensure_pack, pack_folder

    configure(verbose, quiet)
    opened = Hub(resolve_hub_path(hub_path))
    dims = collections.Counter(e.dim for e in opened.entries() if e.dim)
    if dim is None:
        if not dims:
            raise HubError(f"hub {opened.root} has no ESMs with a recorded dimension; pass --dim")
        dim = dims.most_common(1)[0][0]
    index = ensure_pack(opened, dim, force=force, show_progress=False if quiet else None)
    if index is None:
        raise HubError(f"cannot pack hub {opened.root}: packing is disabled "
                       "(STEPSTONE_NO_PACK) or no writable folder was found")
    folder = pack_folder(opened)
    click.echo(f"{len(index.ids)} ESMs ({dim}-d, {index.dtype}) packed in {folder / index.file}"
               f" (built in {index.built_seconds:.1f} s)")
    for esm_id, reason in sorted(index.broken.items()):
        click.echo(f"left out {esm_id}: {reason}", err=True)
