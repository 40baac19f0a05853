"""ESM hubs: folders of ESMs with a SQLite catalog, and the build that fills them."""

from .build import BuildReport, SourceResult, build_hub
from .source_esm import BuildConfig, make_source_esm, source_stats, split_source
from .catalog import HubEntry
from .hub import Hub, HubReport, slugify
from .publish import export_esm, model_card, push_esm
from .remote import PullReport, find_esm_repos, pull_esms

__all__ = ["BuildConfig", "BuildReport", "Hub", "HubEntry", "HubReport", "PullReport",
           "SourceResult", "build_hub", "export_esm", "find_esm_repos", "model_card",
           "make_source_esm", "pull_esms", "push_esm", "slugify", "source_stats",
           "split_source"]
