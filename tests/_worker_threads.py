"""Thread share of a pytest-xdist worker, set on import, before numpy or torch is imported.

pytest-xdist runs the suite in N worker processes (pyproject's addopts); each gets its share of
the cores for OpenMP/MKL/OpenBLAS, so N workers do not each start a full-width thread pool and
slow one another down. conftest.py imports this module first.
"""

from __future__ import annotations

import os


def cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = max(1, cores() // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_name, str(_share))
