"""Write the reference values that tests/scores/test_reference_fixtures.py compares against.

Reference packages, never imported by stepstone itself:
- scikit-learn: Ledoit-Wolf shrinkage, PCA(0.8), leave-one-out k-NN (classifier and regressor),
  RidgeCV / RidgeClassifierCV
  (leave-one-out α selection, cross-validated accuracy and R²);
- transformer-ranker 0.2.0 (optional, in its own virtualenv): shrinkage H-score.

The inputs are stored in the fixture next to the values, so the tests do not depend on this
script's random generator. Run from the repository root:

    python3 benchmarks/score_fixtures.py                       # scikit-learn values only
    python3 benchmarks/score_fixtures.py --transformer-ranker /tmp/tr-venv/bin/python

where the second interpreter is a throwaway virtualenv made with
``python3 -m venv --system-site-packages /tmp/tr-venv &&
/tmp/tr-venv/bin/pip install --no-deps transformer-ranker==0.2.0`` (``--no-deps`` and the
system site packages keep pip from installing another torch).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "scores" / "fixtures" / "reference_scores.json"
RELATIVE_ALPHAS = 10.0 ** np.arange(-3, 4)  # stepstone.scores.ridge's documented grid


def make_cases() -> dict[str, dict]:
    rng = np.random.default_rng(20240601)

    def classes(n: int, d: int, c: int) -> dict:
        labels = rng.integers(0, c, n)
        mix = rng.standard_normal((d, d)) * rng.uniform(0.2, 2.0, d)
        x = rng.standard_normal((n, d)) @ mix + 0.7
        x[:, :2] += 1.5 * labels[:, None]
        return {"features": x.tolist(), "labels": labels.tolist()}

    reg_x = rng.standard_normal((80, 6)) * [1.0, 2.0, 0.5, 1.0, 3.0, 1.0]
    reg_y = reg_x[:, 0] - 0.5 * reg_x[:, 4] + rng.normal(0, 1.0, 80)
    return {
        "cls": classes(90, 8, 3),
        "cls_small": classes(24, 40, 3),  # N < D
        "bin": classes(70, 5, 2),
        "reg": {"features": reg_x.tolist(), "labels": reg_y.tolist()},
    }


def folds(n: int, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """stepstone's fold rule: a seeded permutation split into k near-equal test folds."""
    tests = np.array_split(np.random.default_rng(seed).permutation(n), k)
    return [(np.setdiff1d(np.arange(n), t), t) for t in tests]


def alphas_for(x: np.ndarray) -> np.ndarray:
    return RELATIVE_ALPHAS * ((x - x.mean(0)) ** 2).sum() / x.shape[1]


def sklearn_values(cases: dict[str, dict]) -> dict:
    from scipy.stats import pearsonr
    from sklearn.covariance import ledoit_wolf_shrinkage
    from sklearn.decomposition import PCA
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV
    from sklearn.model_selection import LeaveOneOut, cross_val_predict, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    out: dict = {}
    for name in ("cls", "cls_small", "bin"):
        x, y = np.array(cases[name]["features"]), np.array(cases[name]["labels"])
        onehot = (y[:, None] == np.unique(y)[None, :]).astype(float)
        out[name] = {
            "ledoit_wolf_shrinkage": float(ledoit_wolf_shrinkage(x)),
            "pca80_components": int(PCA(n_components=0.8, svd_solver="full").fit(x).n_components_),
            "knn1_loo_accuracy": float(cross_val_score(KNeighborsClassifier(1), x, y,
                                                       cv=LeaveOneOut()).mean()),
            "ridge_cv_accuracy": float(cross_val_score(RidgeClassifierCV(alphas=alphas_for(x)),
                                                       x, y, cv=folds(len(x))).mean()),
            "ridge_loo_alpha": float(RidgeCV(alphas=alphas_for(x)).fit(x, onehot).alpha_),
        }
    x, y = np.array(cases["bin"]["features"]), np.array(cases["bin"]["labels"])
    out["bin"]["knn3_loo_accuracy"] = float(cross_val_score(KNeighborsClassifier(3), x, y,
                                                            cv=LeaveOneOut()).mean())
    x, y = np.array(cases["reg"]["features"]), np.array(cases["reg"]["labels"])
    predicted = cross_val_predict(KNeighborsRegressor(3), x, y, cv=LeaveOneOut())
    out["reg"] = {
        "knn3_loo_pearson": float(pearsonr(y, predicted)[0]),
        "ridge_cv_r2": float(cross_val_score(RidgeCV(alphas=alphas_for(x)), x, y,
                                             cv=folds(len(x)), scoring="r2").mean()),
        "ridge_loo_alpha": float(RidgeCV(alphas=alphas_for(x)).fit(x, y).alpha_),
    }
    return out


TR_SCRIPT = """
import importlib.util, json, sys, pathlib, torch
import transformer_ranker.estimators.hscore  # noqa: F401 (fails loudly if not installed)
from transformer_ranker.estimators.hscore import HScore
cases = json.loads(sys.stdin.read())
print(json.dumps({name: HScore().fit(torch.tensor(c["features"], dtype=torch.float64),
                                     torch.tensor(c["labels"]))
                  for name, c in cases.items()}))
"""


def transformer_ranker_values(python: str, cases: dict[str, dict]) -> dict:
    wanted = {k: cases[k] for k in ("cls", "cls_small", "bin")}
    done = subprocess.run([python, "-c", TR_SCRIPT], input=json.dumps(wanted), text=True,
                          capture_output=True, check=True)
    tr_version = subprocess.run([python, "-c", "from importlib.metadata import version; "
                                 "print(version('transformer-ranker'))"], text=True,
                                capture_output=True, check=True).stdout.strip()
    return {"version": tr_version, "shrinkage_hscore": json.loads(done.stdout.splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transformer-ranker", metavar="PYTHON",
                        help="python of a virtualenv with transformer-ranker installed")
    args = parser.parse_args()
    cases = make_cases()
    fixture = {
        "made_by": "benchmarks/score_fixtures.py",
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": version("scipy"), "scikit-learn": version("scikit-learn")},
        "cases": cases,
        "sklearn": sklearn_values(cases),
    }
    if args.transformer_ranker:
        fixture["transformer_ranker"] = transformer_ranker_values(args.transformer_ranker, cases)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
