"""Rank a hub's sources for a target: Ranking results and the scoring methods."""

from .methods import METHODS, MethodScores, RankContext, get_method
from .rank import rank_sources
from .ranking import RankedSource, Ranking, Skipped

__all__ = ["METHODS", "MethodScores", "RankContext", "RankedSource", "Ranking", "Skipped",
           "get_method", "rank_sources"]
