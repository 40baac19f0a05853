"""A dataset that is not where it was said to be: "did you mean ...?" for typos, and no network
wait (no Hub look-up at all) for a typo, in offline mode, or when the Hub cannot be reached."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error

import pytest

from stepstone.data import load_task, lookup
from stepstone.errors import DatasetNotFoundError
from tests.helpers import REPO, write_pool_task

ROWS = [{"text": f"text {i}", "label": i % 2} for i in range(8)]


@pytest.fixture
def pool(tmp_path, monkeypatch):
    folder = tmp_path / "pool"
    for name in ("tweeteval_irony", "tweeteval_hate", "banking77"):
        write_pool_task(folder, name, ROWS)
    monkeypatch.setenv("STEPSTONE_DATASETS", str(folder))
    return folder


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything reaches for the Hub: the probe or datasets.load_dataset."""
    import datasets

    def forbidden(*args, **kwargs):
        raise AssertionError("the Hub was contacted")

    monkeypatch.setattr(datasets, "load_dataset", forbidden)
    monkeypatch.setattr(lookup.urllib.request, "urlopen", forbidden)
    lookup._probes.clear()


@pytest.fixture
def online(monkeypatch):
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    lookup._probes.clear()


def test_a_typo_of_a_pool_task_is_answered_at_once(pool, online, no_network):
    with pytest.raises(DatasetNotFoundError, match="Did you mean 'tweeteval_irony'\\?"):
        load_task("tweeteval_iron")
    assert lookup.suggestions("tweeteval_iron") == ["tweeteval_irony"]  # not _hate as well
    assert lookup.suggestions("banking78") == ["banking77"]
    assert lookup.suggestions("completely_different") == []


def test_a_typo_of_a_local_file_is_answered_at_once(tmp_path, online, no_network):
    (tmp_path / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    with pytest.raises(DatasetNotFoundError, match="Did you mean '.*reviews.jsonl'\\?"):
        load_task(str(tmp_path / "reviews.jsnol"))
    with pytest.raises(DatasetNotFoundError, match="reviews.jsonl") as err:
        load_task(str(tmp_path / "reviws.jsonl"))
    assert "Hugging Face dataset of that name" not in str(err.value)  # it is a file


def test_offline_mode_fails_without_any_network_call(pool, monkeypatch, no_network):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match="offline mode is set"):
        load_task("someone/not-cached")


def test_an_unreachable_hub_fails_with_one_probe(pool, online, monkeypatch):
    import datasets

    calls = []

    def unreachable(request, timeout):
        calls.append((request.get_method(), request.full_url, timeout))
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(lookup.urllib.request, "urlopen", unreachable)
    monkeypatch.setattr(datasets, "load_dataset",
                        lambda *a, **k: pytest.fail("load_dataset was called"))
    with pytest.raises(DatasetNotFoundError, match="cannot be reached .*Name or service"):
        load_task("someone/not-cached")
    with pytest.raises(DatasetNotFoundError, match="cannot be reached"):
        load_task("someone/other")  # the probe's answer is reused
    assert calls == [("HEAD", "https://huggingface.co", lookup.PROBE_TIMEOUT)]


def test_the_probe_sees_a_refused_connection(online, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert "refused" in lookup.hub_unreachable(timeout=2).lower()


def test_a_cached_dataset_loads_offline_even_when_the_variable_came_late(
        pool, online, monkeypatch, tmp_path):
    """HF_HUB_OFFLINE set after huggingface_hub was imported is still honoured."""
    import datasets
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    (tmp_path / "hf" / "datasets--someone--cached").mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # as if imported while online
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    seen = {}

    def fake_load_dataset(name, subset=None, split=None):
        seen.update(hub=constants.HF_HUB_OFFLINE, datasets=datasets.config.HF_HUB_OFFLINE)
        return datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    assert len(load_task("someone/cached")) == 2
    assert seen == {"hub": True, "datasets": True}
    assert constants.HF_HUB_OFFLINE is False  # put back afterwards


def test_the_command_line_suggests_before_importing_torch(pool):
    code = ("import sys\nfrom stepstone.cli import main\n"
            "try:\n    main(['rank', 'tweeteval_iron'])\nexcept SystemExit as e:\n"
            "    print('exit', e.code)\n"
            "print('torch imported' if 'torch' in sys.modules else 'torch not imported')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**_env(), "STEPSTONE_DATASETS": str(pool)}, timeout=120)
    assert "Did you mean 'tweeteval_irony'?" in done.stderr
    assert done.stdout.split("\n")[:2] == ["exit 1", "torch not imported"]


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO / "src")}
