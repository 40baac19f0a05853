"""ESMs from the Hugging Face Hub: find them by hfselect's tags, download them with huggingface_hub
into the standard HF cache, and register them in a local hub with their provenance.

hfselect publishes one model repo per ESM, tagged ``embedding_space_map`` and
``BaseLM:<base model>``, with ``base_model`` in the card (so the Hub tags it
``base_model:<id>``); it finds them with ``HfApi().list_models(filter=[...])``. Offline
(``HF_HUB_OFFLINE=1``) nothing is searched: the ESM repos already in the HF cache are used, and
the report says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._env import hf_cache_dir, hf_offline
from ..encode.models import canonical_model_name
from ..errors import ESMError, HubError
from ..esm.io import CONFIG_FILE, WEIGHTS_FILE, load_esm, read_config
from .hub import CARD_FILE, Hub

logger = logging.getLogger(__name__)

ESM_TAG = "embedding_space_map"
ESM_FILES = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE)


@dataclass(frozen=True)
class RemoteESM:
    """One ESM repo: its id, the commit to use (None: ``main``) and its tags."""

    repo_id: str
    revision: str | None = None
    tags: tuple[str, ...] = ()


@dataclass
class PullResult:
    repo_id: str
    esm_id: str
    revision: str | None = None
    status: str = "pending"  # added | updated | unchanged | found | failed
    message: str = ""


@dataclass
class PullReport:
    """What ``pull_esms`` did; ``source`` says where the ESMs were looked up."""

    base_model: str
    offline: bool
    source: str
    results: list[PullResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"base_model": self.base_model, "offline": self.offline, "source": self.source,
                "results": [asdict(r) for r in self.results]}


def esm_id_for(repo_id: str) -> str:
    """The hub id of a Hub repo: ``owner/name`` -> ``owner--name`` (as in the HF cache)."""
    return repo_id.replace("/", "--")


# --- finding ESM repos ----------------------------------------------------------------------------


def find_esm_repos(base_model: str, *, filters: Sequence[str] = (), search: str | None = None,
                   author: str | None = None, limit: int | None = None,
                   offline: bool | None = None) -> list[RemoteESM]:
    """ESM repos for ``base_model``: on the Hub by hfselect's tags (plus ``filters``), or,
    offline, those in the HF cache whose config.json names that base model."""
    if hf_offline() if offline is None else offline:
        return cached_esm_repos(base_model, filters=filters, search=search, author=author,
                                limit=limit)
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        model_id = api.model_info(base_model).id  # the Hub's spelling (moved models redirect)
    except Exception as err:
        logger.info("model_info(%s) failed (%s); using the name as given", base_model, err)
        model_id = canonical_model_name(base_model)
    tags = [ESM_TAG, f"base_model:{model_id}", *filters]
    try:
        infos = list(api.list_models(filter=tags, search=search, author=author, limit=limit,
                                     expand=["sha", "tags"]))
    except Exception as err:
        raise HubError(f"cannot search the Hugging Face Hub for ESMs ({err}); set "
                       "HF_HUB_OFFLINE=1 to use the ESMs already in the HF cache") from err
    return [RemoteESM(info.id, info.sha, tuple(info.tags or ())) for info in infos]


def cached_esm_repos(base_model: str, *, filters: Sequence[str] = (), search: str | None = None,
                     author: str | None = None, limit: int | None = None) -> list[RemoteESM]:
    """ESM repos in the HF cache (``refs/main``, else the newest snapshot) for ``base_model``.

    ``filters`` are matched against the tags the cached model card gives (its ``tags``,
    ``dataset:<id>``, ``license:<id>``, ``language:<code>``, ``base_model:<id>``).
    """
    from huggingface_hub import CacheNotFound, scan_cache_dir

    try:
        cache = scan_cache_dir(hf_cache_dir())
    except CacheNotFound:
        return []
    wanted = canonical_model_name(base_model)
    found = []
    for repo in sorted(cache.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model" or (author and not repo.repo_id.startswith(f"{author}/")) \
                or (search and search.lower() not in repo.repo_id.lower()):
            continue
        revision = _main_revision(repo)
        if revision is None or not (Path(revision.snapshot_path) / WEIGHTS_FILE).is_file():
            continue
        try:
            config = read_config(revision.snapshot_path)
        except ESMError:
            continue  # a model, a dataset card...: not an ESM
        if canonical_model_name(config.base_model_name) != wanted:
            continue
        tags = _card_tags(Path(revision.snapshot_path) / CARD_FILE)
        if set(filters) <= tags:
            found.append(RemoteESM(repo.repo_id, revision.commit_hash, tuple(sorted(tags))))
    return found[:limit] if limit is not None else found


def _main_revision(repo: Any) -> Any:
    revisions = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
    return next((r for r in revisions if "main" in r.refs), revisions[0] if revisions else None)


def _card_tags(path: Path) -> set[str]:
    """Hub-style tags of a model card (empty when there is none or it is unreadable)."""
    if not path.is_file():
        return set()
    from huggingface_hub import ModelCard

    try:
        data = ModelCard.load(path).data.to_dict()
    except Exception as err:  # malformed YAML: no tags, the ESM itself is checked on load
        logger.info("unreadable model card %s: %s", path, err)
        return set()
    tags = {str(t) for t in _as_list(data.get("tags"))}
    for key, prefix in (("datasets", "dataset:"), ("license", "license:"),
                        ("language", "language:"), ("base_model", "base_model:")):
        tags |= {f"{prefix}{v}" for v in _as_list(data.get(key))}
    tags |= {str(v) for v in _as_list(data.get("language"))}
    return tags


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else ([] if value is None else [value])


# --- downloading and registering ---------------------------------------------------------------


def download_esm(remote: RemoteESM, *, offline: bool | None = None) -> Path:
    """The snapshot folder of ``remote`` in the HF cache, downloading its files
    (config.json, model.safetensors, README.md) with huggingface_hub unless offline."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    offline = hf_offline() if offline is None else offline
    folder = None
    for name in ESM_FILES:
        try:
            path = hf_hub_download(remote.repo_id, name, revision=remote.revision or "main",
                                   cache_dir=hf_cache_dir(), local_files_only=offline)
        except EntryNotFoundError:
            if name == CARD_FILE:
                continue  # a card is optional
            raise
        folder = Path(path).parent
    assert folder is not None
    return folder


def register_esm(hub: Hub, folder: Path, *, repo_id: str, revision: str | None,
                 esm_id: str | None = None) -> PullResult:
    """Check the ESM in ``folder`` fully and add it to ``hub`` with its provenance
    (``config.json["stepstone"]["origin"]``); an unchanged revision is not written again."""
    esm_id = esm_id or esm_id_for(repo_id)
    result = PullResult(repo_id=repo_id, esm_id=esm_id, revision=revision)
    esm = load_esm(folder)
    if esm_id in hub:
        origin = hub.entry(esm_id).block.origin
        if revision is not None and origin.get("revision") == revision:
            result.status, result.message = "unchanged", "already in the hub at this revision"
            return result
        result.status = "updated"
    else:
        result.status = "added"
    weights = (folder / WEIGHTS_FILE).read_bytes()
    esm.config.stepstone["origin"] = {
        "hub": "huggingface", "repo_id": repo_id, "revision": revision,
        "sha256": {WEIGHTS_FILE: hashlib.sha256(weights).hexdigest()},
        "layout": "legacy 0.1.0" if esm.config.version == "0.1.0" else "current",
        "pulled": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    card = folder / CARD_FILE
    dtype = "float16" if esm.weight.dtype == np.float16 else "float32"  # as published
    hub.add(esm, esm_id=esm_id, overwrite=True, dtype=dtype,
            card=card.read_text(encoding="utf-8", errors="replace") if card.is_file() else None)
    return result


def pull_esms(hub: Hub, base_model: str, *, filters: Sequence[str] = (),
              search: str | None = None, author: str | None = None, limit: int | None = None,
              repo_ids: Sequence[str] = (), dry_run: bool = False,
              offline: bool | None = None) -> PullReport:
    """Find the ESMs for ``base_model`` (or take ``repo_ids``), download and register them.

    A repo that cannot be downloaded or holds a broken ESM is reported (``failed``) and the rest
    are pulled. ``dry_run`` only lists what was found.
    """
    offline = hf_offline() if offline is None else offline
    source = (f"the HF cache {hf_cache_dir()} (HF_HUB_OFFLINE is set: the Hub was not searched)"
              if offline else "the Hugging Face Hub")
    report = PullReport(base_model=base_model, offline=offline, source=source)
    remotes = ([RemoteESM(r) for r in repo_ids] if repo_ids else
               find_esm_repos(base_model, filters=filters, search=search, author=author,
                              limit=limit, offline=offline))
    if offline:
        logger.warning("offline: using the %d ESM repos for %s found in %s", len(remotes),
                       base_model, hf_cache_dir())
    for remote in remotes:
        if dry_run:
            report.results.append(PullResult(remote.repo_id, esm_id_for(remote.repo_id),
                                             remote.revision, "found"))
            continue
        try:
            folder = download_esm(remote, offline=offline)
            result = register_esm(hub, folder, repo_id=remote.repo_id,
                                  revision=remote.revision or folder.name)
            made_for = hub.entry(result.esm_id).base_model
            if canonical_model_name(made_for) != canonical_model_name(base_model):
                result.message = f"made for base model {made_for!r}, not {base_model!r}"
        except Exception as err:  # one bad repo must not stop the pull
            result = PullResult(remote.repo_id, esm_id_for(remote.repo_id), remote.revision,
                                "failed", _one_line(err))
            logger.error("pulling %s failed: %s", remote.repo_id, result.message)
        report.results.append(result)
    return report


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."
