"""The ctypes (GIL-free) LAPACK route against scipy's wrappers and plain numpy."""

from __future__ import annotations

import numpy as np
import pytest

from stepstone.scores import TargetStats
from stepstone.scores.esm_logme._lapack import ScipyRoutines, routines
from stepstone.scores.esm_logme.fast import tridiagonalize

lib = routines()
needs_lib = pytest.mark.skipif(lib is None, reason="numpy's OpenBLAS was not found")


@needs_lib
def test_numpy_wheels_openblas_is_found_with_its_integer_width():
    # numpy's wheels ship an ILP64 OpenBLAS; a wrong integer width would corrupt every call
    import ctypes

    assert "openblas" in lib.path.lower()
    assert lib.integer in (ctypes.c_int64, ctypes.c_int32)


@needs_lib
def test_each_routine_matches_numpy():
    rng = np.random.default_rng(0)
    factor = np.asfortranarray(np.triu(rng.standard_normal((6, 6))))
    b = np.asfortranarray(rng.standard_normal((4, 6)))
    expected = b @ factor.T
    lib.trmm_right_upper_t(factor, b)
    np.testing.assert_allclose(b, expected, rtol=1e-13, atol=1e-13)

    gram = np.zeros((4, 4), order="F")
    lib.syrk_lower(b, gram)
    np.testing.assert_allclose(np.tril(gram), np.tril(b @ b.T), rtol=1e-13, atol=1e-12)

    sym = np.asfortranarray(np.tril(b @ b.T) + np.tril(b @ b.T, -1).T)
    full = sym.copy(order="F")
    diag, off, tau, work = np.empty(4), np.empty(3), np.empty(3), np.empty(64)
    assert lib.sytrd_lower(sym, diag, off, tau, work) == 0
    tri = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)  # same spectrum as the input
    np.testing.assert_allclose(np.linalg.eigvalsh(tri), np.linalg.eigvalsh(full), rtol=1e-12)

    c = np.asfortranarray(rng.standard_normal((3, 2)))
    norms = np.linalg.norm(c, axis=0)
    assert lib.ormqr_left_t(sym, tau, c, np.empty(128)) == 0
    np.testing.assert_allclose(np.linalg.norm(c, axis=0), norms, rtol=1e-13)  # orthogonal Q


@needs_lib
def test_a_c_ordered_array_is_refused_instead_of_misread():
    with pytest.raises(ValueError, match="Fortran"):
        lib.syrk_lower(np.ones((3, 2)), np.zeros((3, 3), order="F"))


@pytest.mark.parametrize("n, d, d_out, dtype", [(300, 12, 12, np.float64), (8, 12, 12, np.float16),
                                                (40, 6, 3, np.float32), (20, 5, 1, np.float64)])
def test_ctypes_route_gives_scipys_numbers_and_leaves_the_maps_alone(n, d, d_out, dtype):
    rng = np.random.default_rng(d + n)
    features = rng.standard_normal((n, d))
    stats = TargetStats.from_features(features, rng.integers(0, 3, n))
    maps = (np.eye(d + 1, d_out)[None] + 0.2 * rng.standard_normal((5, d + 1, d_out))
            ).astype(dtype)
    before = maps.copy()
    fast, reference = tridiagonalize(stats, maps), tridiagonalize(stats, maps, lib=ScipyRoutines())
    np.testing.assert_array_equal(maps, before)
    for field in ("diag", "off", "proj"):
        np.testing.assert_allclose(getattr(fast, field), getattr(reference, field),
                                   rtol=1e-12, atol=1e-12 * np.abs(stats.gram).max())
