"""``stepstone transfer`` end to end on a tiny random BERT and tiny data: two candidates plus no
transfer, two seeds; table and JSON; resumption after a kill; the handed-over model folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from stepstone.errors import TransferError
from stepstone.finetune import FineTuneConfig
from stepstone.transfer import NO_TRANSFER, TransferResult, TransferSettings, transfer
from stepstone.transfer import run as run_module
from tests.helpers import make_texts, write_pool_task

SETTINGS = TransferSettings(seeds=(1, 2), finetune=FineTuneConfig(epochs=1, batch_size=8,
                                                                  learning_rate=1e-3))


@pytest.fixture
def target(tmp_path):
    """A 60-example two-class pool task without a validation split."""
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 60)
    rows = [{"text": t, "label": int(y)} for t, y in zip(make_texts(labels, rng), labels)]
    return write_pool_task(tmp_path / "targets", "delta", rows, label_names=["yes", "no"])


class Counter:
    """Wraps fine_tune: counts the target fine-tunings and can die before the n-th one."""

    def __init__(self, real, die_at: int | None = None) -> None:
        self.real, self.die_at, self.runs = real, die_at, []

    def __call__(self, *args, **kwargs):
        if self.die_at is not None and len(self.runs) + 1 == self.die_at:
            raise KeyboardInterrupt("killed")
        self.runs.append(kwargs["desc"])
        return self.real(*args, **kwargs)


def run(target, built, tmp_path, **options):
    return transfer(target, sources=options.pop("sources", ["alpha", "beta"]),
                    hub=built.hub_root, models_dir=built.models,
                    work_dir=options.pop("work_dir", tmp_path / "work"),
                    settings=options.pop("settings", SETTINGS), show_progress=False, **options)


def test_two_candidates_and_no_transfer(target, built, tmp_path, monkeypatch):
    counter = Counter(run_module.fine_tune)
    monkeypatch.setattr(run_module, "fine_tune", counter)
    result = run(target, built, tmp_path)
    names = [c.source for c in result.candidates]
    assert names == [NO_TRANSFER, "alpha", "beta"]
    assert all(c.seeds[0] == 1 for c in result.candidates)  # everyone gets the first seed
    assert len(counter.runs) == result.fine_tunings == sum(len(c.seeds) for c in result.candidates)
    assert 4 <= result.fine_tunings <= 6
    assert result.evaluation["source"] == "held-out part of the training data"
    assert result.evaluation["examples"] == 12 and result.target["num_examples"] == 48
    rows = json.loads((tmp_path / "work" / "evaluation.json").read_text())
    assert len(rows["held_out_rows"]) == len(rows["evaluated_rows"]) == 12
    reference = result[NO_TRANSFER]
    assert reference.gain is None and reference.mean is not None
    for c in result.candidates[1:]:
        assert c.gain == pytest.approx(np.mean([s - reference.scores[reference.seeds.index(seed)]
                                                for seed, s in zip(c.seeds, c.scores)]))
    assert result.chosen in names
    chosen = result[result.chosen]
    assert chosen.mean == max(c.mean for c in result.candidates if c.status == "measured")
    # table, JSON and HTML
    table = result.table()
    assert "* " + result.chosen in table and "P(beats none)" in table
    again = TransferResult.from_json(result.to_json())
    assert again.to_dict() == result.to_dict()
    assert json.loads((tmp_path / "work" / "report.json").read_text())["chosen"] == result.chosen
    assert "<table" in (tmp_path / "work" / "report.html").read_text()
    assert set(result.to_pandas().index) == set(names)


def test_the_model_folder_loads_with_transformers_and_predicts(target, built, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from stepstone.data import load_task
    from stepstone.finetune import predict
    from stepstone.finetune.model import TunedModel
    from stepstone.hub.hub import slugify
    from stepstone.transfer.model_folder import read_record

    result = run(target, built, tmp_path, output=tmp_path / "chosen")
    folder = tmp_path / "chosen"
    assert result.model_path == str(folder)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
    mode = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert mode["model.safetensors"] == mode["config.json"]  # as readable as the rest
    record = read_record(folder)
    assert record["source"] == result.chosen and record["seed"] == result.model_seed
    assert record["target"]["name"] == "delta" and record["stepstone"]
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.config.id2label == {0: "yes", 1: "no"}
    task = load_task(target)
    batch = tokenizer(task.texts[:16], padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        predicted = model(**batch).logits.argmax(-1).numpy()
    kept = TunedModel.load(tmp_path / "work" / "best" / slugify(result.chosen))
    assert np.array_equal(predicted, predict(kept, task.subset(list(range(16)))))
    labels = [model.config.id2label[int(i)] for i in predicted]
    assert set(labels) <= {"yes", "no"}


def test_the_model_folder_gives_the_encoder_without_remote_code(target, built, tmp_path):
    """AutoModel (no trust_remote_code) loads the fine-tuned encoder from the folder; mean
    pooling and the head read from model.safetensors predict as the kept model does."""
    import torch
    from safetensors import safe_open
    from transformers import AutoModel, AutoTokenizer

    from stepstone.data import load_task
    from stepstone.finetune import predict
    from stepstone.finetune.model import TunedModel
    from stepstone.hub.hub import slugify

    result = run(target, built, tmp_path, output=tmp_path / "chosen")
    folder = tmp_path / "chosen"
    kept = TunedModel.load(tmp_path / "work" / "best" / slugify(result.chosen))
    encoder = AutoModel.from_pretrained(folder).eval()
    mine = kept.model.encoder.state_dict()
    for name, value in encoder.state_dict().items():  # every weight the fine-tuning left
        assert torch.equal(value, mine[name]), name
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        head_w, head_b = weights.get_tensor("head.weight"), weights.get_tensor("head.bias")
    task = load_task(target)
    batch = AutoTokenizer.from_pretrained(folder)(task.texts[:16], padding=True,
                                                  truncation=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        predicted = ((hidden * mask).sum(1) / mask.sum(1) @ head_w.T + head_b).argmax(-1)
    assert np.array_equal(predicted.numpy(), predict(kept, task.subset(list(range(16)))))


def test_a_killed_run_resumes_without_repeating_a_fine_tuning(target, built, tmp_path,
                                                              monkeypatch):
    first = Counter(run_module.fine_tune, die_at=3)
    monkeypatch.setattr(run_module, "fine_tune", first)
    with pytest.raises(KeyboardInterrupt):
        run(target, built, tmp_path)
    assert len(first.runs) == 2
    second = Counter(first.real)
    monkeypatch.setattr(run_module, "fine_tune", second)
    result = run(target, built, tmp_path)
    assert not set(first.runs) & set(second.runs)  # nothing measured twice
    assert len(first.runs) + len(second.runs) == result.fine_tunings
    third = Counter(first.real)
    monkeypatch.setattr(run_module, "fine_tune", third)
    again = run(target, built, tmp_path)  # all done: nothing runs, same answer
    assert third.runs == [] and again.chosen == result.chosen


def test_missing_source_data_is_reported_and_the_others_run(target, built, tmp_path):
    missing = str(tmp_path / "gone.csv")
    result = run(target, built, tmp_path, sources=["alpha", missing])
    gone = result[missing]
    assert gone.status == "failed" and "cannot be found" in gone.error
    assert "the other candidates still run" in gone.error
    assert result["alpha"].mean is not None and result[NO_TRANSFER].mean is not None


def test_a_target_too_small_to_hold_out_is_refused(built, tmp_path):
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 8)
    rows = [{"text": t, "label": int(y)} for t, y in zip(make_texts(labels, rng), labels)]
    small = write_pool_task(tmp_path, "tiny", rows)
    with pytest.raises(TransferError, match="at least 50 examples"):
        run(small, built, tmp_path)


def test_other_settings_in_the_same_work_folder_are_refused(target, built, tmp_path):
    run(target, built, tmp_path, sources=["alpha"],
        settings=TransferSettings(seeds=(1,), finetune=SETTINGS.finetune))
    other = TransferSettings(seeds=(1,), num_examples=30, finetune=SETTINGS.finetune)
    with pytest.raises(TransferError, match="another --work folder"):
        run(target, built, tmp_path, sources=["alpha"], settings=other)


def test_budget_stops_before_a_fine_tuning_that_would_overrun(target, built, tmp_path):
    result = run(target, built, tmp_path, budget=0.001)
    assert result.fine_tunings == 0 and result.stopped.startswith("budget")
    assert result.chosen is None and result.model_path is None


def test_cli_prints_the_table_and_json(target, built, tmp_path):
    from stepstone.cli import main

    args = ["transfer", str(target), "--hub", str(built.hub_root), "--models", str(built.models),
            "--sources", "alpha", "--seeds", "1", "--epochs", "1", "--learning-rate", "1e-3",
            "--work", str(tmp_path / "w"), "-q"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "P(beats none)" in out.output and "Model:" in out.output
    out = CliRunner().invoke(main, [*args, "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output[out.output.index("{"):])
    assert [c["source"] for c in data["candidates"]] == [NO_TRANSFER, "alpha"]


def test_candidates_from_a_saved_ranking(target, built, tmp_path):
    from stepstone.rank import rank_sources

    ranking = rank_sources(target, hub=built.hub_root, show_progress=False, advice=False)
    path = tmp_path / "ranking.json"
    ranking.to_json(path)
    result = transfer(target, ranking=path, top=1, hub=built.hub_root, models_dir=built.models,
                      work_dir=tmp_path / "w", show_progress=False,
                      settings=TransferSettings(seeds=(1,), finetune=SETTINGS.finetune))
    first = ranking.sources[0]
    assert [c.source for c in result.candidates] == [NO_TRANSFER, first.esm_id]
    assert result.candidates[1].rank == 1


def test_a_regression_model_folder_predicts_on_the_labels_scale(built, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from stepstone.data import load_task
    from stepstone.finetune import predict
    from stepstone.finetune.model import TunedModel
    from stepstone.hub.hub import slugify

    rng = np.random.default_rng(8)
    labels = rng.integers(0, 2, 60)
    rows = [{"text": t, "label": float(10 + 5 * y + rng.normal(0, 0.3))}
            for t, y in zip(make_texts(labels, rng), labels)]
    target = write_pool_task(tmp_path / "targets", "score", rows, task_type="regression")
    result = run(target, built, tmp_path, sources=["gamma"],
                 settings=TransferSettings(seeds=(1,), finetune=SETTINGS.finetune))
    assert result.metric == "pearson_spearman"
    model = AutoModelForSequenceClassification.from_pretrained(result.model_path,
                                                               trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(result.model_path)
    task = load_task(target).subset(list(range(8)))
    with torch.inference_mode():
        values = model(**tokenizer(task.texts, padding=True, return_tensors="pt")).logits[:, 0]
    kept = TunedModel.load(tmp_path / "work" / "best" / slugify(result.chosen))
    assert np.allclose(values.numpy(), predict(kept, task), atol=1e-4)
    assert model.config.problem_type == "regression"


def test_more_seeds_in_the_same_work_folder_add_to_the_rows(target, built, tmp_path,
                                                            monkeypatch):
    one = TransferSettings(seeds=(1,), finetune=SETTINGS.finetune)
    run(target, built, tmp_path, sources=["alpha"], settings=one)
    counter = Counter(run_module.fine_tune)
    monkeypatch.setattr(run_module, "fine_tune", counter)
    result = run(target, built, tmp_path, sources=["alpha"],
                 settings=TransferSettings(seeds=(1, 2), finetune=SETTINGS.finetune))
    assert sorted(counter.runs) == sorted(["delta after (no transfer) (seed 2)",
                                           "delta after alpha (seed 2)"])
    assert all(c.seeds == [1, 2] for c in result.candidates)


def test_the_modeling_file_names_the_encoders_config_class_and_prefix():
    from stepstone.transfer import model_folder

    source = model_folder.modeling_source("BertConfig", "bert")
    assert "from transformers import BertConfig" in source
    assert "config_class = BertConfig" in source and "config_class = PretrainedConfig" not in source
    assert "base_model_prefix = 'bert'" in source and 'base_model_prefix = "encoder"' not in source
    compile(source, model_folder.MODELING_FILE, "exec")
    # a renamed line of hf_modeling.py is an error, not a file that silently keeps the old names
    with pytest.raises(AssertionError, match="base_model_prefix"):
        model_folder._substitute("class X:\n    base_model_prefix = 'x'\n",
                                 'base_model_prefix = "encoder"', "base_model_prefix = 'bert'")
