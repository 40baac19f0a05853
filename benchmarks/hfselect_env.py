"""A separate virtualenv with the reference package hf-dataset-selector==0.2.1 (hfselect).

hfselect pins numpy==2.0.0 (for numba), so it must not share stepstone's environment. Benchmark
and interop scripts call :func:`hfselect_python` and run hfselect code in a subprocess.

    python3 benchmarks/hfselect_env.py      # create it (once) and print its python
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("HFSELECT_VENV", REPO / ".cache" / "hfselect-venv"))
# torch first, alone: the local CPU wheel, never a CUDA build pulled in by a dependency. scipy:
# hfselect's LogME runs np.linalg under numba, which needs scipy's LAPACK (hfselect does not
# declare it); installed with hfselect so that pip picks one that works with its numpy==2.0.0.
INSTALL_STEPS = [["torch==2.13.0"], ["hf-dataset-selector==0.2.1", "scipy"]]
PACKAGES = [p for step in INSTALL_STEPS for p in step]


def _main_checkout_venv() -> Path | None:
    """In a git worktree, the venv of the main checkout (created once, shared)."""
    try:
        common = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--git-common-dir"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    venv = (REPO / common).resolve().parent / ".cache" / "hfselect-venv"
    return venv if (venv / ".complete").is_file() else None


def hfselect_python() -> Path:
    """Path of the venv's python, creating the venv (or adding what it lacks) on first use."""
    venv = VENV
    if not (VENV / ".complete").is_file() and "HFSELECT_VENV" not in os.environ:
        venv = _main_checkout_venv() or VENV
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    installed = marker.read_text().split() if marker.is_file() else []
    if all(p in installed for p in PACKAGES):
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for step in INSTALL_STEPS:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *step], check=True)
    marker.write_text("\n".join(PACKAGES) + "\n")
    return python


if __name__ == "__main__":
    print(hfselect_python())
