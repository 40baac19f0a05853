"""NCTI: Neural-Collapse Transferability Index (Wang et al., ICCV 2023).

PCA to 64 dimensions, then scikit-learn's LDA with shrinkage s = max(exp(−Σ_{j≤32} explained
variance_j), 1e-10) (``solver="eigen"``; ``solver="svd"`` without shrinkage when s hits the
floor, as BUserName/NCTI), and three terms:

* S_seli = ‖Z − mean Z‖_*, the nuclear norm of the LDA-projected features,
* S_ncc  = mean_i p_LDA(y_i | x_i),
* S_vc   = log Σ_c ‖P_c‖_*, P_c the LDA posteriors of the class-c examples.

NCTI = minmax(S_ncc) + minmax(S_seli) − minmax(S_vc), each term normalised across the candidate
pool; :func:`ncti` on one feature matrix returns the unnormalised S_ncc + S_seli − S_vc.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ScoreError
from ._inputs import two_class_inputs
from .sfda import MIN_SHRINKAGE

COMPONENTS = 64
SHRINKAGE_COMPONENTS = 32
WEIGHTS = {"ncc": 1.0, "seli": 1.0, "vc": -1.0}


def ncti_terms(features: np.ndarray, labels: np.ndarray, *, regression: bool = False
               ) -> dict[str, float]:
    """{"seli", "ncc", "vc"}. Shapes: features (N, D), labels (N,). Classification only."""
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    x, ids, classes = two_class_inputs(features, labels, score="ncti",
                                       regression=regression)
    pca = PCA(n_components=min(COMPONENTS, *x.shape), svd_solver="full")
    reduced = pca.fit_transform(x)
    shrinkage = max(float(np.exp(-pca.explained_variance_[:SHRINKAGE_COMPONENTS].sum())),
                    MIN_SHRINKAGE)
    lda = (LinearDiscriminantAnalysis(solver="svd") if shrinkage <= MIN_SHRINKAGE else
           LinearDiscriminantAnalysis(solver="eigen", shrinkage=shrinkage))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "variables are collinear" for N < D
        try:
            projected = lda.fit(reduced, ids).transform(reduced)
        except (ValueError, np.linalg.LinAlgError) as err:
            raise ScoreError(f"ncti: the LDA cannot be fitted ({err})") from err
        probs = lda.predict_proba(reduced)
    seli = float(np.linalg.norm(projected - projected.mean(0), ord="nuc"))
    ncc = float(probs[np.arange(len(x)), ids].mean())
    spread = sum(float(np.linalg.norm(probs[ids == c], ord="nuc")) for c in range(classes))
    return {"seli": seli, "ncc": ncc, "vc": float(np.log(spread))}


def ncti(features: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> float:
    """Unnormalised S_ncc + S_seli − S_vc of one candidate (see the module docstring)."""
    terms = ncti_terms(features, labels, regression=regression)
    return float(sum(w * terms[name] for name, w in WEIGHTS.items()))
