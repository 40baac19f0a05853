"""The source side: fine-tune the base model on a source, embed the source with both models,
fit its ESM and store it (with source and domain statistics) in a hub; once per source."""

from .domain_stats import DomainStatsReport, add_domain_stats
from .pipeline import BuildReport, SourceResult, build_hub
from .source_esm import BuildConfig, make_source_esm, source_stats, split_source

__all__ = ["BuildConfig", "BuildReport", "DomainStatsReport", "SourceResult", "add_domain_stats",
           "build_hub", "make_source_esm", "source_stats", "split_source"]
