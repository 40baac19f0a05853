"""Ground-truth transfer grids, selection metrics, evaluation of ranking methods, reports."""

from .evaluate import Evaluation, GroundTruth, evaluate_methods
from .grids import FULL, GRIDS, REDUCED, Grid, load_grid, related
from .metrics import (expected_best_of_top_k, ndcg, regret_at_k, selection_metrics, spearman,
                      weighted_kendall)
from .report import write_report
from .results import BASELINE, Cell, ResultsFile
from .transfer import TransferRun, run_transfer, target_samples, transfer_metric

__all__ = ["BASELINE", "Cell", "Evaluation", "FULL", "GRIDS", "Grid", "GroundTruth", "REDUCED",
           "ResultsFile", "TransferRun", "evaluate_methods", "expected_best_of_top_k",
           "load_grid", "ndcg", "regret_at_k", "related", "run_transfer", "selection_metrics",
           "spearman", "target_samples", "transfer_metric", "weighted_kendall", "write_report"]
