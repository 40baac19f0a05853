"""ESM hubs: folders of ESMs with a SQLite catalog, and the build that fills them."""

from .build import BuildConfig, BuildReport, SourceResult, build_hub, source_stats, split_source
from .catalog import HubEntry
from .hub import Hub, HubReport, slugify

__all__ = ["BuildConfig", "BuildReport", "Hub", "HubEntry", "HubReport", "SourceResult",
           "build_hub", "slugify", "source_stats", "split_source"]
