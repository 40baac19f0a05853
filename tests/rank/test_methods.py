"""Every ranking method on a tiny hub built end to end, each checked against an independent
computation of what it claims to compute."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stepstone.encode import Encoder
from stepstone.errors import InvalidOptionError, ScoreError
from stepstone.finetune import TunedModel
from stepstone.hub import Hub
from stepstone.data import TaskType
from stepstone.rank import method_infos, rank_sources
from stepstone.rank.registry import Need
from stepstone.scores import SCORES, feature_scores, leep, logme, nce
from stepstone.scores.pool import combine_pool
from tests.scores.naive import naive_logme
from tests.scores.naive_scores import (naive_gbc, naive_hscore, naive_knn, naive_nleep,
                                       naive_sfda, naive_shrinkage_hscore, naive_transrate)

#: read off the records (a method that cannot take regression targets says so)
CLASSIFICATION_ONLY_METHODS = [i.name for i in method_infos()
                               if TaskType.REGRESSION not in i.targets]
#: every other plain method but those fitted on measured transfers (transfer-graph:
#: test_transfer_graph.py; learned: test_learned.py)
REGRESSION_METHODS = [i.name for i in method_infos()
                      if TaskType.REGRESSION in i.targets and Need.TRANSFERS not in i.needs]


def rank(target, built, method, **kw):
    return rank_sources(target, hub=Hub(built.hub_root), method=method,
                        models_dir=built.models, **kw)


# methods fitted on measured transfers have tests of their own (test_transfer_graph.py,
# test_learned.py)
@pytest.mark.parametrize("method", [i.name for i in method_infos()
                                    if Need.TRANSFERS not in i.needs]
                         + ["fusion:esm-logme,textemb", "fusion-z:esm-knn,size"])
def test_every_method_ranks_a_classification_target(built, toy_task, method):
    ranking = rank(toy_task, built, method)
    scored = {s.esm_id for s in ranking}
    assert np.isfinite([s.score for s in ranking]).all()
    assert [s.rank for s in ranking] == list(range(1, len(ranking) + 1))
    skipped = {s.esm_id: s.reason for s in ranking.skipped}
    if method in ("leep", "nce"):  # gamma is a regression source: no class probabilities
        assert scored == {"alpha", "beta"} and "regression" in skipped["gamma"]
    else:
        assert scored == {"alpha", "beta", "gamma"}, skipped


#: an implementation of each score that stepstone's methods do not use: the naive formulas of
#: tests/scores (the ridge probe, which has none, is checked against scikit-learn there; the
#: newer estimators are checked against their naive forms in tests/scores/test_estimators.py)
REFERENCE_SCORES = {
    "logme": naive_logme, "hscore": naive_hscore, "shrinkage-hscore": naive_shrinkage_hscore,
    "nleep": naive_nleep, "gbc": naive_gbc,  # the tiny BERT's D = 32 < 64: GBC does no PCA
    "transrate": naive_transrate, "sfda": naive_sfda, "knn": naive_knn,
}


def explicitly_mapped(hub_root, esm_id, features):
    """x Wᵀ + b with W, b read straight from the ESM's safetensors file, in float64."""
    from safetensors.numpy import load_file

    tensors = load_file(str(hub_root / "esms" / esm_id / "model.safetensors"))
    weight, bias = (tensors[k].astype(np.float64) for k in ("model.weight", "model.bias"))
    return features @ weight.T + bias


#: esm-ped standardises with reference statistics: tests/scores/test_estimators.py
@pytest.mark.parametrize("info", [i for i in feature_scores() if i.name != "ped"],
                         ids=lambda i: i.name)
def test_esm_methods_score_the_explicitly_mapped_features(built, toy_task, tiny_bert, info):
    ranking = rank(toy_task, built, f"esm-{info.name}")
    features = Encoder(tiny_bert, pooling="mean").embed_task(toy_task).astype(np.float64)
    assert len(ranking) == 3
    mapped = {s.esm_id: explicitly_mapped(built.hub_root, s.esm_id, features) for s in ranking}
    if info.pooled:  # ETran, NCTI: terms min-max normalised across the ranked sources
        ids = sorted(mapped)
        terms = [info.terms(mapped[i], toy_task.labels) for i in ids]
        expected = dict(zip(ids, combine_pool(terms, info.pool_weights)))
    else:
        reference = REFERENCE_SCORES.get(info.name) or info.func
        expected = {i: reference(m, toy_task.labels) for i, m in mapped.items()}
    for source in ranking:
        assert source.score == pytest.approx(expected[source.esm_id], rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("method", CLASSIFICATION_ONLY_METHODS)
def test_classification_only_methods_refuse_a_regression_target(built, toy_regression_task,
                                                                method):
    with pytest.raises(ScoreError, match="classification targets only"):
        rank(toy_regression_task, built, method)


@pytest.mark.parametrize("method", REGRESSION_METHODS)
def test_regression_capable_methods_rank_a_regression_target(built, toy_regression_task,
                                                             method):
    ranking = rank(toy_regression_task, built, method)
    assert len(ranking) == 3 and np.isfinite([s.score for s in ranking]).all()


def test_textemb_is_the_cosine_of_mean_embeddings(built, toy_task, tiny_bert):
    ranking = rank(toy_task, built, "textemb")
    target = Encoder(tiny_bert, pooling="mean").embed_task(toy_task).astype(np.float64).mean(0)
    hub = Hub(built.hub_root)
    for source in ranking:
        mean = hub.stats(source.esm_id)["text_mean"].astype(np.float64)
        expected = target @ mean / np.linalg.norm(target) / np.linalg.norm(mean)
        assert source.score == pytest.approx(expected, rel=1e-9)


def test_vocab_overlap_is_the_jaccard_of_token_sets(built, toy_task, tiny_bert):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    special = set(tokenizer.all_special_ids)
    target = {i for text in toy_task.texts for i in tokenizer(text)["input_ids"]} - special
    hub = Hub(built.hub_root)
    ranking = rank(toy_task, built, "vocab-overlap")
    for source in ranking:
        bits = np.unpackbits(hub.stats(source.esm_id)["token_bitmap"])
        ids = set(np.flatnonzero(bits).tolist()) - special
        assert source.score == pytest.approx(len(target & ids) / len(target | ids), rel=1e-12)


def test_sources_without_stats_are_skipped_with_the_reason(built, toy_task, tmp_path):
    import shutil

    root = tmp_path / "hub"
    shutil.copytree(built.hub_root, root)
    (root / "esms" / "beta" / "source_stats.safetensors").unlink()
    for method in ("textemb", "vocab-overlap"):
        ranking = rank_sources(toy_task, hub=Hub(root), method=method)
        assert {s.esm_id for s in ranking} == {"alpha", "gamma"}
        assert "source_stats.safetensors" in {s.esm_id: s.reason for s in ranking.skipped}["beta"]


def test_size_and_random(built, toy_task):
    sizes = rank(toy_task, built, "size").scores()
    assert sizes == {"alpha": 60.0, "beta": 60.0, "gamma": 60.0}  # rows before sampling
    first = rank(toy_task, built, "random").scores()
    assert first == rank(toy_task, built, "random").scores()
    assert first != rank(toy_task, built, "random", seed=7).scores()
    # adding or removing sources does not reshuffle the others
    fewer = rank(toy_task, built, "random", filters={"name": "[ab]*"}).scores()
    assert fewer == {k: first[k] for k in ("alpha", "beta")}


def _tuned_view(folder, task):
    """Embeddings and head probabilities straight from the tuned SequenceModel (no stepstone
    encoder, no cache)."""
    tuned = TunedModel.load(folder)
    batch = tuned.tokenizer(task.texts, padding=True, truncation=True, max_length=128,
                            return_tensors="pt")
    with torch.no_grad():
        embeddings = tuned.model.embed(**batch)
        logits = tuned.model.head(embeddings)
    return embeddings.double().numpy(), torch.softmax(logits.double(), 1).numpy()


def test_tuned_logme_leep_nce_use_each_source_model(built, toy_task):
    scores = {m: rank(toy_task, built, m).scores() for m in ("logme", "leep", "nce")}
    for esm_id in ("alpha", "beta"):
        embeddings, probs = _tuned_view(built.models / esm_id, toy_task)
        assert scores["logme"][esm_id] == pytest.approx(logme(embeddings, toy_task.labels),
                                                        rel=1e-4)
        assert scores["leep"][esm_id] == pytest.approx(leep(probs, toy_task.labels), rel=1e-4)
        assert scores["nce"][esm_id] == pytest.approx(nce(probs, toy_task.labels), rel=1e-6)


def test_tuned_methods_need_the_models_folder(built, toy_task, tmp_path, monkeypatch):
    monkeypatch.delenv("STEPSTONE_MODELS", raising=False)
    with pytest.raises(InvalidOptionError, match="--models DIR"):
        rank_sources(toy_task, hub=Hub(built.hub_root), method="logme")
    monkeypatch.setenv("STEPSTONE_MODELS", str(built.models))
    assert len(rank_sources(toy_task, hub=Hub(built.hub_root), method="logme")) == 3
    partial = tmp_path / "models"
    partial.mkdir()
    (partial / "alpha").symlink_to(built.models / "alpha", target_is_directory=True)
    ranking = rank_sources(toy_task, hub=Hub(built.hub_root), method="logme",
                           models_dir=partial)
    assert set(ranking.scores()) == {"alpha"}
    assert "no kept fine-tuned model" in {s.esm_id: s.reason for s in ranking.skipped}["beta"]


def test_taskemb_caches_source_embeddings(built, toy_task, monkeypatch):
    first = rank(toy_task, built, "taskemb").scores()
    from stepstone.rank.methods import taskemb as taskemb_module

    calls = []
    original = taskemb_module.fisher_task_embedding

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(taskemb_module, "fisher_task_embedding", counting)
    again = rank(toy_task, built, "taskemb").scores()
    assert again == pytest.approx(first) and len(calls) == 1  # the target only


def test_fusion_is_rank_fusion_of_its_methods(built, toy_task):
    logme_scores = rank(toy_task, built, "esm-logme").scores()
    text_scores = rank(toy_task, built, "textemb").scores()
    fused = rank(toy_task, built, "fusion:esm-logme,textemb").scores()

    def ranks(scores):
        order = sorted(scores, key=lambda k: -scores[k])
        return {k: order.index(k) + 1 for k in scores}

    a, b = ranks(logme_scores), ranks(text_scores)
    for esm_id, value in fused.items():
        assert value == pytest.approx(1 / (60 + a[esm_id]) + 1 / (60 + b[esm_id]))


def test_fusion_leaves_out_sources_a_method_skipped(built, toy_task):
    ranking = rank(toy_task, built, "fusion:esm-logme,leep")
    assert set(ranking.scores()) == {"alpha", "beta"}
    assert "leep: leep needs a classification source" in \
        {s.esm_id: s.reason for s in ranking.skipped}["gamma"]


@pytest.mark.parametrize("spec,message", [("fusion:esm-logme", "two or more"),
                                          ("fusion:esm-logme,esm-logme", "two or more"),
                                          ("fusion:esm-logme,magic", "unknown ranking method"),
                                          ("fusion:textemb,fusion:a,b", "nested")])
def test_bad_fusion_specs(built, toy_task, spec, message):
    with pytest.raises(InvalidOptionError, match=message):
        rank(toy_task, built, spec)


def test_score_registry_lists_every_score_with_its_target_support():
    assert set(SCORES) == {"logme", "hscore", "shrinkage-hscore", "nleep", "gbc", "transrate",
                           "sfda", "knn", "ridge", "leep", "nce", "etran", "ncti", "ped", "tmi",
                           "parc", "lfc"}
    assert {n for n, i in SCORES.items() if i.regression} == {"logme", "knn", "ridge", "parc",
                                                              "lfc"}
