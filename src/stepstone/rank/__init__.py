"""Rank a hub's sources for a target: Ranking results and the scoring methods."""

from .diverse import DiverseBy, select_diverse
from .methods import (METHODS, MethodScores, RankContext, available_methods, get_method,
                      register, register_prefix)
from .rank import rank_sources
from .ranking import RankedSource, Ranking, SelectedSource, Skipped

__all__ = ["METHODS", "DiverseBy", "MethodScores", "RankContext", "RankedSource", "Ranking",
           "SelectedSource", "Skipped", "available_methods", "get_method", "rank_sources",
           "register", "register_prefix", "select_diverse"]
