"""Crash safety of hub writes: `stepstone build` killed with SIGKILL in the middle of writing and
restarted, an interrupted overwrite, and two builds writing to one hub at once.

The kills hit the write window deterministically through failpoints (stepstone._failpoints): the
build process pauses at a named point of its write path, announces it in a marker file, and the
test kills it there from outside with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepstone.cli import main
from stepstone.esm import load_esm
from stepstone.hub import Hub
from tests.esm.test_io import make_esm
from tests.helpers import REPO

SOURCES = ("alpha", "beta", "gamma")
TIMEOUT = 180  # seconds a build may take to reach a failpoint (the suite runs on a busy CPU)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPSTONE_FAILPOINT")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    env.update(extra)
    return env


def _build_args(tmp_path: Path, tiny_bert: str, pool: Path, sources=SOURCES, *extra: str
                ) -> list[str]:
    return [sys.executable, "-m", "stepstone", "build", *(str(pool / s) for s in sources),
            "--hub", str(tmp_path / "hub"), "--model", tiny_bert, "--num-examples", "30",
            "--held-out", "10", "--epochs", "1", "--batch-size", "8",
            "--keep-models", str(tmp_path / "models"), "-q", *extra]


def _kill_at(args: list[str], point: str, tmp_path: Path) -> None:
    """Run ``args`` until it reaches failpoint ``point``, then SIGKILL it there."""
    marker = tmp_path / f"reached-{point.replace(':', '_')}"
    log = open(tmp_path / "build.log", "ab")
    proc = subprocess.Popen(args, env=_env(STEPSTONE_FAILPOINT=point,
                                           STEPSTONE_FAILPOINT_FILE=str(marker)),
                            stdout=log, stderr=log)
    deadline = time.monotonic() + TIMEOUT
    try:
        while not marker.is_file():
            if proc.poll() is not None:
                pytest.fail(f"build exited ({proc.returncode}) before reaching {point}:\n"
                            + (tmp_path / "build.log").read_text()[-3000:])
            if time.monotonic() > deadline:
                pytest.fail(f"build did not reach {point} in {TIMEOUT} s")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=_env(**env), capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _listed(hub: Path) -> list[str]:
    result = CliRunner().invoke(main, ["hub", "list", "--hub", str(hub), "--format", "json"])
    assert result.exit_code == 0, result.output
    return [e["id"] for e in json.loads(result.output)]


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file below ``folder``: equal snapshots mean nothing was rewritten."""
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _statuses(report: Path) -> list[tuple[str, str, bool]]:
    results = json.loads(report.read_text())["results"]
    return [(r["esm_id"], r["status"], r["reused_model"]) for r in results]


def test_build_killed_mid_write_resumes_without_half_written_esms_or_redone_work(
        tiny_bert, toy_pool, tmp_path):
    report = tmp_path / "report.json"
    args = _build_args(tmp_path, tiny_bert, toy_pool, SOURCES, "--report", str(report))
    hub, esms, models = tmp_path / "hub", tmp_path / "hub" / "esms", tmp_path / "models"

    # 1. killed inside alpha's catalog transaction: the folder is complete, the catalog update
    #    is rolled back by SQLite, and opening the hub catalogues the folder
    _kill_at(args, "catalog-transaction", tmp_path)
    assert (esms / "alpha" / "config.json").is_file()
    with sqlite3.connect(hub / "catalog.sqlite") as conn:
        assert conn.execute("SELECT id FROM esms").fetchall() == []
    assert _listed(hub) == ["alpha"]
    alpha = _files(esms / "alpha")

    # 2. killed half way through writing beta's model.safetensors
    _kill_at(args, "partial-write:model.safetensors", tmp_path)
    unfinished = [p for p in esms.iterdir() if p.name.endswith("@beta")]
    assert len(unfinished) == 1 and unfinished[0].name.startswith(".tmp-new@")
    partial = [p for p in unfinished[0].iterdir() if p.name.startswith(".tmp-model.safetensors")]
    assert len(partial) == 1 and partial[0].stat().st_size > 0  # the kill hit the file write
    assert _listed(hub) == ["alpha"]  # never listed, and removed when the hub is opened
    assert _leftovers(esms) == []
    beta_model = _files(models / "beta")  # fine-tuning finished before the kill: kept

    # 3. killed while saving gamma's tuned model; beta's ESM is made from its kept model
    _kill_at(args, "tuned-save:gamma", tmp_path)
    assert _statuses(report) == [("alpha", "skipped", False), ("beta", "built", True)]
    assert _files(models / "beta") == beta_model
    assert not (models / "gamma").exists() and _leftovers(models)  # unfinished save aside

    # 4. killed after gamma's folder is in place, before the catalog knows it
    _kill_at(args, "hub-add:gamma", tmp_path)
    assert (esms / "gamma" / "model.safetensors").is_file() and _leftovers(models) == []

    # 5. the restart finds everything finished: nothing is redone, the catalog matches the files
    _run(args)
    assert _statuses(report) == [(s, "skipped", False) for s in SOURCES]
    assert _files(esms / "alpha") == alpha
    verify = CliRunner().invoke(main, ["hub", "verify", "--hub", str(hub)])
    assert verify.exit_code == 0 and "checked 3 ESMs: ok" in verify.output, verify.output
    assert _listed(hub) == list(SOURCES) and _leftovers(esms) == [] == _leftovers(models)
    with sqlite3.connect(hub / "catalog.sqlite") as conn:
        assert sorted(r[0] for r in conn.execute("SELECT id FROM esms")) == list(SOURCES)


def test_interrupted_overwrite_keeps_the_previous_esm(tmp_path):
    hub = Hub(tmp_path / "hub", create=True)
    first = make_esm(seed=1)
    hub.add(first, esm_id="toy", dtype="float32")
    before = _files(hub.esm_dir / "toy")
    script = ("from stepstone.hub import Hub; from tests.esm.test_io import make_esm; "
              f"Hub({str(hub.root)!r}).add(make_esm(seed=2), esm_id='toy', overwrite=True)")
    _kill_at([sys.executable, "-c", script], "replace-folder:toy", tmp_path)
    assert not (hub.esm_dir / "toy").exists()  # killed between moving it aside and replacing it
    assert [n.split("@")[0] for n in _leftovers(hub.esm_dir)] == [".tmp-new", ".tmp-old"]
    reopened = Hub(hub.root)
    assert _files(hub.esm_dir / "toy") == before and _leftovers(hub.esm_dir) == []
    assert (reopened.get("toy").weight == first.weight).all() and reopened.verify().ok


def test_two_builds_writing_to_one_hub_at_once_end_consistent(tiny_bert, toy_pool, tmp_path):
    # each build pauses 1 s with a finished ESM folder not yet catalogued, widening the window
    # in which the other process opens, syncs and writes the same hub
    slow = {"STEPSTONE_FAILPOINT": "hub-add", "STEPSTONE_FAILPOINT_ACTION": "sleep:1"}
    reports = [tmp_path / "a.json", tmp_path / "b.json"]
    runs = [subprocess.Popen(_build_args(tmp_path, tiny_bert, toy_pool, order, "--report",
                                         str(report)),
                             env=_env(**slow), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for order, report in zip((SOURCES, SOURCES[::-1]), reports)]
    hub_root = tmp_path / "hub"
    snapshots = []  # what a reader lists meanwhile; every listed ESM must load
    deadline = time.monotonic() + 2 * TIMEOUT
    try:
        while any(run.poll() is None for run in runs):
            if time.monotonic() > deadline:
                pytest.fail(f"the two builds did not finish in {2 * TIMEOUT} s")
            if (hub_root / "esms").is_dir():
                reader = Hub(hub_root)
                listed = tuple(entry.id for entry in reader.entries())
                for entry in reader.entries():
                    load_esm(entry.path)
                reader.close()
                snapshots.append(listed)
            time.sleep(0.2)
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
    outputs = [run.communicate()[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    statuses = [s for report in reports for s in _statuses(report)]
    built = sorted(esm_id for esm_id, status, _ in statuses if status == "built")
    assert built == sorted(SOURCES)  # each source built exactly once
    assert all(status in ("built", "skipped", "locked") for _, status, _ in statuses)
    hub = Hub(hub_root)
    assert [e.id for e in hub.entries()] == sorted(SOURCES) and hub.verify().ok
    assert _leftovers(hub.esm_dir) == [] == _leftovers(tmp_path / "models")
    # the reader saw the hub change while it was written: a part of the sources, then more
    assert all(set(listed) <= set(SOURCES) for listed in snapshots)
    partial = [listed for listed in snapshots if 0 < len(listed) < len(SOURCES)]
    assert partial and len(set(snapshots)) >= 2, snapshots
