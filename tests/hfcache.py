"""A local folder laid out like the Hugging Face Hub cache, so that huggingface_hub itself
resolves repos from it offline (tests never touch the network)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_repo(cache: Path, repo_id: str, files: dict[str, bytes], *,
               revision: str | None = None) -> str:
    """Store ``files`` as repo ``repo_id`` at ``revision`` (default: a hash of the files) the way
    huggingface_hub does: ``models--<owner>--<name>/{blobs/<hash>, snapshots/<rev>/<file> ->
    ../../blobs/<hash>, refs/main}``. Returns the revision."""
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    if revision is None:
        digest = hashlib.sha1()
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + files[name])
        revision = digest.hexdigest()
    snapshot = folder / "snapshots" / revision
    for name, data in files.items():
        blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(revision)
    return revision


def cache_folder(cache: Path, repo_id: str, folder: Path, *, revision: str | None = None) -> str:
    """Store every file of ``folder`` as repo ``repo_id``."""
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
             if p.is_file()}
    return cache_repo(cache, repo_id, files, revision=revision)
