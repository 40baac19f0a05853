"""The estimators of issue 12 on the bundled default hub, through the CLI as a user runs them:
``stepstone rank ../shared/datasets/tweeteval_irony --num-examples 1000 --method esm-etran``
must rank all 61 other sources (integration)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from stepstone._env import default_hub_path
from stepstone.cli import main
from stepstone.hub import Hub
from tests.helpers import SHARED_DATASETS, requires_shared

pytestmark = [pytest.mark.integration, requires_shared,
              pytest.mark.skipif(not (default_hub_path() / "esms").is_dir(),
                                 reason="the default hub is not built in this checkout")]



def test_a_pool_normalised_method_ranks_all_61_other_sources_from_the_cli():
    """Every method ranks the default hub in tests/rank/test_methods_default_hub.py (through the
    API, 300 examples); this is the CLI path as a user runs it, with a method that needs the
    whole pool (ETran)."""
    result = CliRunner().invoke(main, ["rank", str(SHARED_DATASETS / "tweeteval_irony"),
                                       "--num-examples", "1000", "--method", "esm-etran",
                                       "--format", "json", "-q"])
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.stdout[result.stdout.index("{"):])
    others = {e.id for e in Hub(default_hub_path()).entries()} - {"tweeteval_irony"}
    assert len(others) == 61
    assert {s["esm_id"] for s in ranking["sources"]} == others
    assert ranking["skipped"] == [] and np.isfinite([s["score"] for s in ranking["sources"]]).all()


def test_coverage_selection_reports_marginal_gains():
    result = CliRunner().invoke(main, ["rank", str(SHARED_DATASETS / "tweeteval_irony"),
                                       "--num-examples", "300", "--diverse", "3",
                                       "--diverse-objective", "coverage", "--format", "json",
                                       "-q"])
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.stdout[result.stdout.index("{"):])
    gains = [s["gain"] for s in ranking["selected"]]
    assert len(gains) == 3 and all(a >= b - 1e-9 for a, b in zip(gains, gains[1:]))
    assert ranking["selection"]["objective"] == "coverage"
