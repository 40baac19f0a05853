"""ESM hubs: storage only (folders of ESMs, the SQLite catalog, packs, remote repositories).
The build that fills them is :mod:`stepstone.build`."""

from .._moved import moved_attribute
from .catalog import HubEntry
from .hub import Hub, HubReport, slugify
from .publish import export_esm, model_card, push_esm
from .remote import PullReport, find_esm_repos, pull_esms

__all__ = ["Hub", "HubEntry", "HubReport", "PullReport", "export_esm", "find_esm_repos",
           "model_card", "pull_esms", "push_esm", "slugify"]

#: names that moved to stepstone.build (still importable from here, with a warning)
_MOVED = {name: "stepstone.build" for name in (
    "BuildConfig", "BuildReport", "SourceResult", "build_hub", "make_source_esm",
    "source_stats", "split_source")}


def __getattr__(name: str):
    return moved_attribute(__name__, name, _MOVED)
