"""Finding a dataset that is not where it was said to be: close names and the Hub's reach.

Two first-contact stumbles are handled here, before any network wait:

- a name close to a pool task or a local file (``tweeteval_iron``, ``reviews.jsnol``) is almost
  always a typo, so it fails at once with "did you mean ...?" instead of being looked up on the
  Hugging Face Hub;
- a Hub that cannot be reached (no network, a firewall) is found by one short request
  (:data:`PROBE_TIMEOUT` seconds), so a name that is not cached fails with one line instead of
  the Hub client's five retries (~30 s); ``HF_HUB_OFFLINE=1`` skips the request altogether, and
  then a dataset with no trace in the local caches fails without importing ``datasets``.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from .._env import dataset_pool_dirs, hf_cache_dir

_probes: dict[str, tuple[float, str | None]] = {}

#: seconds to wait for the Hub's answer before calling it unreachable
PROBE_TIMEOUT = 3.0
#: seconds a probe's answer is reused
PROBE_MEMORY = 60.0
#: difflib similarity above which a name is suggested (tweeteval_iron/tweeteval_irony: 0.97)
CUTOFF = 0.8


def pool_task_names() -> list[str]:
    """Names of the pool tasks in every dataset pool folder (``task.json`` present)."""
    names: set[str] = set()
    for folder in dataset_pool_dirs():
        with contextlib.suppress(OSError):
            names.update(p.name for p in folder.iterdir() if (p / "task.json").is_file())
    return sorted(names)


def suggestions(location: str) -> list[str]:
    """Close pool task names (for a bare name) and close names in the folder the location
    points into (the working directory for a bare name), best first."""
    path = Path(location).expanduser()
    found: list[str] = []
    if "/" not in location and os.sep not in location:
        found += difflib.get_close_matches(location, pool_task_names(), n=3, cutoff=CUTOFF)
    parent = path.parent
    if parent.is_dir():
        with contextlib.suppress(OSError):
            entries = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))
            close = difflib.get_close_matches(path.name, entries, n=3, cutoff=CUTOFF)
            prefix = "" if str(parent) == "." and not location.startswith(".") else f"{parent}/"
            found += [f"{prefix}{name}" for name in close if f"{prefix}{name}" not in found]
    scores = {name: difflib.SequenceMatcher(None, path.name, Path(name).name).ratio()
              for name in found}
    best = max(scores.values(), default=0.0)
    return [name for name in found if scores[name] >= best - 0.1][:3]  # the clear favourites


def did_you_mean(names: list[str]) -> str:
    return f" Did you mean {' or '.join(repr(n) for n in names)}?" if names else ""


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_unreachable(timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when the Hugging Face Hub answers (any HTTP status), else why it does not. The
    answer is remembered for :data:`PROBE_MEMORY` seconds (one probe per command)."""
    endpoint = hub_endpoint()
    known = _probes.get(endpoint)
    if known is not None and time.monotonic() - known[0] < PROBE_MEMORY:
        return known[1]
    request = urllib.request.Request(endpoint, method="HEAD")
    reason: str | None = None
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # it answered
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = str(getattr(err, "reason", err)) or type(err).__name__
    _probes[endpoint] = (time.monotonic(), reason)
    return reason


def maybe_cached(dataset_id: str) -> bool:
    """Whether the dataset may be in a local cache (huggingface_hub's or datasets' own), so
    that an offline load is worth trying. Errs on the side of trying."""
    hub = hf_cache_dir() / f"datasets--{dataset_id.replace('/', '--')}"
    datasets_home = os.environ.get("HF_DATASETS_CACHE") or (
        Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "datasets")
    own = Path(datasets_home).expanduser() / dataset_id.replace("/", "___")
    return hub.exists() or own.exists()


@contextlib.contextmanager
def offline_hub() -> Iterator[None]:
    """Make huggingface_hub and datasets act as with ``HF_HUB_OFFLINE=1`` (they read the
    variable once, at import), for a load after the variable was set or the Hub was found
    unreachable."""
    import datasets.config
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved
