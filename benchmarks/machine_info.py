"""What a benchmark figure depends on: CPU model, cores, BLAS library and kernel, load."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str | None:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def blas_info() -> list[dict]:
    """Each BLAS library loaded by numpy and scipy, with the kernel it runs (OpenBLAS picks one
    per CPU at load time, or takes ``OPENBLAS_CORETYPE``)."""
    import numpy  # noqa: F401 - load the libraries before asking
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_info

    return [{k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            | {"library": Path(lib["filepath"]).name} for lib in threadpool_info()
            if lib.get("user_api") == "blas"]


def describe() -> dict:
    return {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)),
            "platform": platform.platform(), "python": platform.python_version(),
            "blas": blas_info(), "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
            "load_average": os.getloadavg()}
