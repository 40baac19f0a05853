"""Helpers shared by tests (importable, unlike conftest)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


WORDS = {
    0: ["great", "wonderful", "happy", "love", "excellent", "good", "fine", "nice"],
    1: ["awful", "terrible", "sad", "hate", "bad", "poor", "ugly", "boring"],
}


def make_texts(labels: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Texts whose words reveal the label (so tiny models can learn them), varied lengths."""
    texts = []
    for label in labels:
        words = WORDS[int(label) % 2]
        n = int(rng.integers(2, 12))
        texts.append(" ".join(rng.choice(words, size=n)) + f" item {int(rng.integers(1000))}")
    return texts


def write_pool_task(folder: Path, name: str, rows: list[dict], *, task_type: str = "classification",
                    label_names: list[str] | None = None, is_pair: bool = False) -> Path:
    """A task folder in the format of ../shared/datasets."""
    task = folder / name
    task.mkdir(parents=True)
    with open(task / "train.jsonl", "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    meta = {"name": name, "task_type": task_type, "is_pair": is_pair,
            "num_examples": {"train": len(rows)}}
    if label_names:
        meta["label_names"] = label_names
    (task / "task.json").write_text(json.dumps(meta))
    return task


def shared_available() -> bool:
    return (SHARED_DATASETS / "tweeteval_irony" / "task.json").is_file()


requires_shared = pytest.mark.skipif(not shared_available(),
                                     reason="../shared/datasets is not next to the checkout")


def benchmark_script(name: str):
    """benchmarks/<name>.py imported as a module (the scripts are not a package); the sys.path
    entries a script adds for itself are taken back."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    path = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = path
    return module
