"""Run hfselect 0.2.1 (inside its own virtualenv, see hfselect_env.py) for compare_hfselect.py.

    <hfselect python> hfselect_runner.py rank  JOB.json   # hfselect's ranking path, instrumented
    <hfselect python> hfselect_runner.py logme JOB.json   # hfselect's LogME on given features

``rank`` does what ``hfselect.compute_task_ranking`` does with local ESM folders and a local
model: load the ESMs (``ESM.from_pretrained``), load the base model, ``compute_scores`` (embed the
target padded to 128 tokens, map the embeddings through every ESM batch by batch, LogME on each
ESM's mapped features) and build the ``TaskRanking``. Phases are timed by wrapping hfselect's own
functions, never by changing them. Only this file imports hfselect; it never imports stepstone.
"""

from __future__ import annotations

import json
import sys
import time

STARTED = time.perf_counter()


def _timed(fn, bucket: dict, key: str):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            bucket[key] = bucket.get(key, 0.0) + time.perf_counter() - t0
    return wrapper


def rank(job: dict) -> dict:
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    import datasets
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    import hfselect
    import hfselect.esm_logme as esm_logme_module
    from hfselect import ESM, Dataset
    from hfselect.logme import LogME
    from hfselect.task_ranking import TaskRanking
    phases["import"] = time.perf_counter() - t0

    t0 = time.perf_counter()  # numba compiles LogME's SVD on first use, in every process
    LogME(regression=False).fit(np.random.default_rng(0).standard_normal((50, 20)),
                                np.arange(50) % 2)
    phases["numba_compile"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    esms = []
    for folder in job["esms"]:
        esm = ESM.from_pretrained(folder)
        if esm.is_legacy_model:
            esm.convert_legacy_to_new()
        esms.append(esm)
    phases["load_esms"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = AutoModel.from_pretrained(job["model"])
    tokenizer = AutoTokenizer.from_pretrained(job["model"])
    # hfselect picks mean pooling from the hub name; a local folder's path does not contain it
    model.name_or_path = model.config._name_or_path = job["model_name"]
    rows = [json.loads(line) for line in open(job["target"], encoding="utf-8") if line.strip()]
    data = datasets.Dataset.from_list(rows)
    dataset = Dataset(data, text_col="text", label_col="label",
                      is_regression=job["regression"])
    phases["load_model"] = time.perf_counter() - t0

    embed: dict[str, float] = {}
    esm_logme_module.get_pooled_output = _timed(esm_logme_module.get_pooled_output, embed,
                                                "forward")
    dataset.collate_fn = _timed(dataset.collate_fn, embed, "tokenize")
    esm_logme_module.LogME.fit = _timed(LogME.fit, phases, "logme")
    torch.set_grad_enabled(False)
    t0 = time.perf_counter()
    scores = esm_logme_module.compute_scores(dataset=dataset, base_model=model, esms=esms,
                                             tokenizer=tokenizer, batch_size=128,
                                             device_name="cpu")
    phases["compute_scores"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ranking = TaskRanking([esm.create_config() for esm in esms], list(scores))
    phases["ranking"] = time.perf_counter() - t0
    phases.update(embed)
    phases["total_in_process"] = time.perf_counter() - STARTED
    return {"phases": phases, "scores": [float(s) for s in scores], "num_ranked": len(ranking),
            "hfselect_version": hfselect.__version__, "torch_version": torch.__version__}


def logme(job: dict) -> dict:
    """hfselect's LogME for each ESM on mapped features computed two ways: in float64 from the
    ESM's weights (same numbers stepstone sees) and with hfselect's float32 ESM module (what
    its pipeline does). Also the rank k hfselect uses and its α per class, so the caller can add
    the (D - k)·log α term hfselect leaves out."""
    import numpy as np
    import torch
    from safetensors.numpy import load_file

    from hfselect import ESM
    from hfselect.logme import LogME, truncated_svd

    arrays = load_file(job["features"])
    features, labels = arrays["features"].astype(np.float64), arrays["labels"]
    out = []
    for folder in job["esms"]:
        esm = ESM.from_pretrained(folder)
        if esm.is_legacy_model:
            esm.convert_legacy_to_new()
        weight = esm.model.weight.detach().double().numpy()
        bias = esm.model.bias.detach().double().numpy()
        row = {"esm": folder}
        mapped = {"float64": features @ weight.T + bias,
                  "float32": esm(torch.from_numpy(features).float()).detach().numpy()}
        for name, feats in mapped.items():
            model = LogME(regression=job["regression"])
            score = model.fit(feats, labels)
            row[name] = {"score": float(score), "rank": _hfselect_rank(feats, truncated_svd),
                         "alphas": [float(a) for a in model.alphas]}
        out.append(row)
    return {"rows": out, "n": int(features.shape[0]), "d": int(features.shape[1])}


def _hfselect_rank(feats, truncated_svd) -> int:
    """How many eigenvalues hfselect's LogME keeps: those with singular value > 1e-10 when
    N > D (its truncated_svd), all min(N, D) of a thin SVD otherwise."""
    import numpy as np

    n, d = feats.shape
    if n > d:
        return int(len(truncated_svd(feats.astype(np.float64))[1]))
    return min(n, d)


if __name__ == "__main__":
    mode, job_path = sys.argv[1], sys.argv[2]
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    result = {"rank": rank, "logme": logme}[mode](job)
    with open(job["out"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
