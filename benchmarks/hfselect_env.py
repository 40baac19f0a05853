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
# scipy: hfselect's LogME (numba) needs it for linear algebra but hfselect does not declare it,
# so compute_scores fails without it
PACKAGES = ["torch==2.13.0", "hf-dataset-selector==0.2.1", "scipy"]


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
    """Path of the venv's python, creating the venv (or adding missing packages) on first use."""
    venv = VENV
    if not (VENV / ".complete").is_file() and "HFSELECT_VENV" not in os.environ:
        venv = _main_checkout_venv() or VENV
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    installed = marker.read_text().split() if marker.is_file() else None
    if installed is None:
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        installed = []
    # torch first, alone: the local CPU wheel, never a CUDA build pulled in by a dependency
    missing = [p for p in PACKAGES if p not in installed]
    for package in missing:
        subprocess.run([str(python), "-m", "pip", "install", "-q", package], check=True)
    if missing:
        marker.write_text("\n".join(PACKAGES) + "\n")
    return python


if __name__ == "__main__":
    print(hfselect_python())
