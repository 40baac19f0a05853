"""A cold `stepstone rank` imports only what ranking by ESM-LogME needs (issue 13: cold start).

scikit-learn (~0.7 s), scipy.stats/optimize (~0.3 s), matplotlib and Ray are imported by the
functions that use them, not by the modules a ranking loads.
"""

from __future__ import annotations

import subprocess
import sys

RANKING_MODULES = ("stepstone.cli.rank_cmd", "stepstone.rank", "stepstone.scores",
                   "stepstone.hub", "stepstone.encode.encoder", "stepstone.data.loaders")
NOT_NEEDED = ("sklearn", "scipy.stats", "scipy.optimize", "matplotlib", "ray")


def test_ranking_modules_do_not_import_heavy_optional_packages():
    code = (f"import sys\nfor m in {RANKING_MODULES!r}: __import__(m)\n"
            f"print(' '.join(m for m in {NOT_NEEDED!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == []


def test_the_scores_still_work_when_their_packages_are_imported_late():
    import numpy as np

    from stepstone.scores import gbc, knn, ncti, nleep, parc, ridge_probe, shrinkage_hscore, tmi

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((60, 5)), np.repeat([0, 1, 2], 20)
    x[:, 0] += y
    for score in (gbc, knn, ncti, nleep, parc, ridge_probe, shrinkage_hscore, tmi):
        assert np.isfinite(score(x, y))
