"""Rank a hub's sources for a target: Ranking results and the scoring methods."""

from .diverse import DiverseBy, select_diverse
from .context import MethodScores, RankContext, SourceParts
from .registry import (METHODS, Execution, MethodFamily, MethodInfo, Need, PoolUse, Reference,
                       available_methods, get_method, method_infos, register, register_prefix)
from .rank import rank_sources
from .ranking import RankedSource, Ranking, SelectedSource, Skipped

__all__ = ["METHODS", "DiverseBy", "Execution", "MethodFamily", "MethodInfo", "MethodScores",
           "Need", "PoolUse", "RankContext", "RankedSource", "Ranking", "Reference",
           "SelectedSource", "Skipped", "SourceParts", "available_methods", "get_method",
           "method_infos", "rank_sources", "register", "register_prefix", "select_diverse"]
