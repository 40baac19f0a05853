"""The ranking methods, one module per family; each registers its records
(:class:`~stepstone.rank.registry.MethodInfo`) beside its functions:

- ``esm_logme``: the default, ESM-LogME; ``esm_scores``: ``esm-<score>`` for every other
  feature score of :mod:`stepstone.scores.registry`;
- ``domain_stats``: methods on the sources' domain statistics (domain-divergence, esm-ped);
- ``baselines``: textemb, vocab-overlap, size, random;
- ``tuned`` and ``taskemb``: methods on the kept fine-tuned source models;
- ``fusion`` and ``transfer_graph``: methods built from other methods.

This package was the module ``stepstone.rank.methods``; its names are still importable here.
"""

from ..context import MethodScores, RankContext, SourceParts, gather
from ..registry import (METHODS, PREFIXED, MethodInfo, Need, Reference, available_methods,
                        get_method, load_builtin_methods, register, register_prefix)

_load_builtin_methods = load_builtin_methods  # the old name

__all__ = ["METHODS", "PREFIXED", "MethodInfo", "MethodScores", "Need", "RankContext",
           "Reference", "SourceParts", "available_methods", "gather", "get_method",
           "register", "register_prefix"]
