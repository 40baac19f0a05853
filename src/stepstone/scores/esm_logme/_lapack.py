"""GIL-free BLAS/LAPACK calls for the ESM-LogME worker threads: ctypes into numpy's OpenBLAS.

Why by hand: through scipy's f2py wrappers, ``dtrmm``, ``dsytrd`` and ``dormqr`` called from two
threads ran one at a time. Measured on a 2-core Xeon (Sapphire Rapids) on 2026-12-02: two
threads got 0.85-0.98x the throughput of one; the same ``dsytrd`` of the same library called
through ctypes (which releases the GIL around every foreign call) got 1.86x.
``scipy.linalg.cython_lapack`` would do too, but needs a compiled extension, which this
pure-Python package does not build.

The library is the OpenBLAS that numpy itself loaded (found with threadpoolctl), so the
one-thread limit of ``single_threaded_blas`` applies to these calls too. Where it cannot be
found or has an unknown symbol scheme (MKL, Accelerate, a future wheel), :func:`routines`
returns None and the callers use scipy's wrappers: the same results, without the parallelism.
Every array passed here is float64 and Fortran-ordered; the functions check that, because a
wrong layout would not fail but compute garbage.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

logger = logging.getLogger(__name__)

#: (prefix, routine suffix, suffix of ``openblas_get_config``): numpy's wheels ship an ILP64
#: OpenBLAS as ``scipy_dsytrd_64_``, scipy's wheels an LP64 one as ``scipy_dsytrd_``, a system
#: OpenBLAS uses ``dsytrd_`` (or ``dsytrd_64_``). The integer width is read from the library's
#: own configuration string (``USE64BITINT``), never guessed from the names.
_SCHEMES = (("scipy_", "_64_", "64_"), ("scipy_", "_", ""), ("", "_64_", "64_"), ("", "_", ""))
_NAMES = ("dtrmm", "dsyrk", "dsytrd", "dormqr")
_CHAR_LEN = ctypes.c_size_t(1)  # gfortran's hidden length of each CHARACTER*1 argument


@dataclass(frozen=True)
class Routines:
    """The four routines of one library and its integer type."""

    path: str
    integer: type
    funcs: dict

    def _i(self, value: int):
        return ctypes.byref(self.integer(value))

    def trmm_right_upper_t(self, factor: np.ndarray, b: np.ndarray) -> None:
        """b := b · factorᵀ in place. Shapes: factor (n, n) upper triangular, b (m, n)."""
        _check_fortran(factor, b)
        m, n = b.shape
        one = ctypes.c_double(1.0)
        self.funcs["dtrmm"](b"R", b"U", b"T", b"N", self._i(m), self._i(n), ctypes.byref(one),
                            _ptr(factor), self._i(factor.shape[0]), _ptr(b), self._i(m),
                            _CHAR_LEN, _CHAR_LEN, _CHAR_LEN, _CHAR_LEN)

    def syrk_lower(self, a: np.ndarray, c: np.ndarray) -> None:
        """Lower triangle of c := a · aᵀ (the upper one is left as it was).
        Shapes: a (n, k), c (n, n)."""
        _check_fortran(a, c)
        n, k = a.shape
        one, zero = ctypes.c_double(1.0), ctypes.c_double(0.0)
        self.funcs["dsyrk"](b"L", b"N", self._i(n), self._i(k), ctypes.byref(one), _ptr(a),
                            self._i(n), ctypes.byref(zero), _ptr(c), self._i(n),
                            _CHAR_LEN, _CHAR_LEN)

    def sytrd_lower(self, a: np.ndarray, diag: np.ndarray, off: np.ndarray, tau: np.ndarray,
                    work: np.ndarray) -> int:
        """Householder tridiagonal reduction of the symmetric a (lower triangle used), in
        place: a's lower part then holds the reflectors. Shapes: a (n, n), diag (n,),
        off (n-1,), tau (n-1,), work (lwork,). Returns LAPACK's info."""
        _check_fortran(a)
        n = a.shape[0]
        info = self.integer(0)
        self.funcs["dsytrd"](b"L", self._i(n), _ptr(a), self._i(n), _ptr(diag), _ptr(off),
                             _ptr(tau), _ptr(work), self._i(len(work)), ctypes.byref(info),
                             _CHAR_LEN)
        return int(info.value)

    def ormqr_left_t(self, reflectors: np.ndarray, tau: np.ndarray, c: np.ndarray,
                     work: np.ndarray) -> int:
        """c := Qᵀ c in place, Q = H_1 … H_k from the reflectors below row 1 of a ``sytrd``
        result: the reflectors start at element (1, 0) of ``reflectors`` (n, n), c is
        (n-1, K). Returns LAPACK's info."""
        _check_fortran(reflectors, c)
        n = reflectors.shape[0]
        m, k_cols = c.shape
        info = self.integer(0)
        below = ctypes.c_void_p(reflectors.ctypes.data + reflectors.itemsize)  # element (1, 0)
        self.funcs["dormqr"](b"L", b"T", self._i(m), self._i(k_cols), self._i(m), below,
                             self._i(n), _ptr(tau), _ptr(c), self._i(m), _ptr(work),
                             self._i(len(work)), ctypes.byref(info), _CHAR_LEN, _CHAR_LEN)
        return int(info.value)


class ScipyRoutines:
    """The same four operations through scipy's wrappers (the fallback, and the reference the
    ctypes route is tested against): same arguments, same in-place results."""

    def trmm_right_upper_t(self, factor: np.ndarray, b: np.ndarray) -> None:
        from scipy.linalg import blas

        b[...] = blas.dtrmm(1.0, factor, b, side=1, lower=0, trans_a=1)

    def syrk_lower(self, a: np.ndarray, c: np.ndarray) -> None:
        c[...] = a @ a.T  # numpy's matmul calls syrk for a transposed pair

    def sytrd_lower(self, a: np.ndarray, diag: np.ndarray, off: np.ndarray, tau: np.ndarray,
                    work: np.ndarray) -> int:
        from scipy.linalg import lapack

        reflectors, diag[...], off[...], tau[:len(off)], info = lapack.dsytrd(
            a, lower=1, lwork=len(work), overwrite_a=1)
        a[...] = reflectors
        return int(info)

    def ormqr_left_t(self, reflectors: np.ndarray, tau: np.ndarray, c: np.ndarray,
                     work: np.ndarray) -> int:
        from scipy.linalg import lapack

        c[...], _, info = lapack.dormqr("L", "T", reflectors[1:, :-1], tau, c, lwork=len(work),
                                        overwrite_c=1)
        return int(info)


def _ptr(a: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(a.ctypes.data)


def _check_fortran(*arrays: np.ndarray) -> None:
    for a in arrays:
        if a.dtype != np.float64 or not a.flags.f_contiguous:
            raise ValueError("internal: LAPACK arrays must be Fortran-ordered float64")


@lru_cache(maxsize=1)
def routines() -> Routines | None:
    """The routines of numpy's OpenBLAS, or None when they cannot be found."""
    try:
        from threadpoolctl import threadpool_info

        candidates = [i["filepath"] for i in threadpool_info()
                      if i.get("internal_api") == "openblas"]
    except Exception as err:  # noqa: BLE001 - any failure means: use scipy's wrappers
        logger.debug("no OpenBLAS found for GIL-free LAPACK calls: %s", err)
        return None
    numpy_first = sorted(candidates, key=lambda p: "numpy" not in p)
    for path in numpy_first:
        found = _load(path)
        if found is not None:
            logger.debug("GIL-free LAPACK calls through %s", path)
            return found
    logger.debug("no usable OpenBLAS among %s: LAPACK through scipy's wrappers", candidates)
    return None


def _load(path: str) -> Routines | None:
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix, suffix, config_suffix in _SCHEMES:
        try:
            funcs = {name: getattr(lib, f"{prefix}{name}{suffix}") for name in _NAMES}
            config = getattr(lib, f"{prefix}openblas_get_config{config_suffix}")
        except AttributeError:
            continue
        config.restype = ctypes.c_char_p
        integer = ctypes.c_int64 if b"USE64BITINT" in (config() or b"") else ctypes.c_int32
        for func in funcs.values():
            func.restype = None
        return Routines(path=path, integer=integer, funcs=funcs)
    return None
