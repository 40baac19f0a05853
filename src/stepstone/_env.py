"""Where stepstone keeps things: cache, default hub, the shared dataset pool.

Every location can be overridden with an environment variable, so a read-only install, a CI job or
a cluster can point them elsewhere without code changes.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent

#: Name of the default base model: sentence-transformers/all-MiniLM-L6-v2 (D=384).
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def cache_dir() -> Path:
    """Embedding cache and other rebuildable files (``STEPSTONE_CACHE``, else ~/.cache/stepstone)."""
    env = os.environ.get("STEPSTONE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stepstone"


def default_hub_path() -> Path:
    """The hub ``rank`` uses when none is given (``STEPSTONE_HUB``, else the bundled MiniLM hub)."""
    env = os.environ.get("STEPSTONE_HUB")
    if env:
        return Path(env).expanduser()
    return PACKAGE_DIR / "hubs" / "all-MiniLM-L6-v2"


def dataset_pool_dirs() -> list[Path]:
    """Folders searched when a dataset is given by bare pool name (e.g. ``sst2``).

    ``STEPSTONE_DATASETS`` (os.pathsep-separated) first, then ``../shared/datasets`` relative to
    the working directory and to the source checkout.
    """
    dirs = [Path(p).expanduser() for p in os.environ.get("STEPSTONE_DATASETS", "").split(os.pathsep) if p]
    dirs.append(Path.cwd().parent / "shared" / "datasets")
    dirs.append(PACKAGE_DIR.parents[2] / "shared" / "datasets")
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def hf_cache_dir() -> Path:
    """The Hugging Face Hub cache, read at call time: ``HF_HUB_CACHE``, else ``$HF_HOME/hub``,
    else huggingface_hub's default (~/.cache/huggingface/hub)."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return Path(env).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hf_offline() -> bool:
    """Whether the Hugging Face Hub must not be contacted (``HF_HUB_OFFLINE``, read at call
    time, or ``TRANSFORMERS_OFFLINE``)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), recorded with every measured figure because
    the machines that run stepstone's benchmarks differ (with or without AMX, for instance)."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
