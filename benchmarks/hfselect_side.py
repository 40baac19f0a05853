"""The hfselect half of the interop fixtures and checks. Runs ONLY in hfselect's virtualenv
(see hfselect_env.py; it pins numpy 2.0.0), started by make_hfselect_fixtures.py and
check_hfselect_interop.py; it does not import stepstone.

    <hfselect python> benchmarks/hfselect_side.py make  OUT_DIR   # the committed fixtures
    <hfselect python> benchmarks/hfselect_side.py apply REQUEST.json   # live check

``make`` writes, with hfselect's own code: a tiny random BERT (16-d, 1 layer, ~90-token
vocabulary), three ESMs (current layout as hfselect publishes them, the legacy 0.1.0 layout, one
for a "sentence-transformers" base model), hfselect's outputs of these ESMs on fixed inputs,
hfselect's embeddings of fixed texts and text pairs with both of its pooling rules, and
hfselect's ESM-LogME scores of its ESMs for a small target. ``apply`` gives hfselect's outputs of
other ESM folders (those stepstone wrote) and its embeddings and scores for given inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

DIM = 16
BASE = "stepstone-test/tiny-bert"  # pooler output (plain BERT)
BASE_ST = "sentence-transformers/stepstone-tiny-bert"  # masked mean ("sentence-transformers")
WORDS = ["the", "movie", "film", "was", "is", "great", "good", "bad", "awful", "love", "hate",
         "i", "it", "not", "and", "a", "plot", "actors", "boring", "fun"]
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + list("abcdefghijklmnopqrstuvwxyz")
         + [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + list("0123456789.,!?'"))


def fixture_texts() -> tuple[list[str], list[str], list[int]]:
    """60 short reviews (one longer than 128 tokens, one with characters outside the vocabulary),
    second texts for pairs, and binary labels that the words hint at."""
    import numpy as np

    rng = np.random.default_rng(7)
    good, bad = ["great", "good", "love", "fun"], ["bad", "awful", "hate", "boring"]
    neutral = ["the", "movie", "film", "was", "is", "i", "it", "and", "a", "plot", "actors"]
    letters = list("abcdefghijklmnopqrstuvwxyz")

    def sentence(label: int) -> str:
        words = [str(rng.choice(neutral)) for _ in range(int(rng.integers(2, 8)))]
        words += [str(rng.choice(bad if label else good)) for _ in range(int(rng.integers(1, 3)))]
        words.append("".join(rng.choice(letters, size=int(rng.integers(3, 8)))))  # word pieces
        rng.shuffle(words)
        return " ".join(words) + str(rng.choice([" !", " .", "", " ?"]))

    labels = [i % 2 for i in range(60)]
    texts = [sentence(y) for y in labels]
    pairs = [sentence(int(rng.integers(2))) for _ in labels]
    texts[3] = " ".join(["the film was great"] * 45)  # > 128 tokens: truncated
    texts[4] = "Très BON film, 日本 ✓"  # accents stripped, characters outside the vocabulary
    return texts, pairs, labels


def _quiet_hfselect():
    """Import hfselect without its side effects in the caller's folder (it opens
    ./hfselect_logs.log at import) and without LogME's per-iteration prints."""
    import contextlib
    import io

    cwd = os.getcwd()
    os.chdir(tempfile.mkdtemp(prefix="hfselect-logs-"))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import hfselect
    finally:
        os.chdir(cwd)
    return hfselect


def make_tiny_bert(folder: Path) -> None:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    BertTokenizer(vocab={token: i for i, token in enumerate(VOCAB)},
                  do_lower_case=True).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=DIM, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=128)
    model = BertModel(config)
    with torch.no_grad():  # all weights random, LayerNorm too: embeddings of full rank
        for name, param in model.named_parameters():
            param.normal_(1.0 if "LayerNorm.weight" in name else 0.0, 0.3)
    model.save_pretrained(folder, safe_serialization=True)


def make_esm(folder: Path, *, base: str, task: str, seed: int, legacy: bool = False) -> None:
    """An ESM written as hfselect publishes it: the model files of ``save_pretrained``, then
    config.json rewritten by ``ESMConfig.save_pretrained`` (what ``publish`` pushes last), and a
    model card with publish()'s metadata. ``legacy`` writes the 0.1.0 layout instead."""
    import torch
    from huggingface_hub import ModelCard, ModelCardData, PyTorchModelHubMixin

    hfselect = _quiet_hfselect()
    from hfselect.esmconfig import ESMConfig

    config = ESMConfig(base_model_name=base, task_id=task, task_subset=None, text_column="text",
                       label_column="label", task_split="train", num_examples=40, seed=42,
                       esm_architecture="linear", esm_embedding_dim=DIM, lm_num_epochs=3,
                       lm_batch_size=32, lm_learning_rate=2e-5, lm_weight_decay=0.01,
                       lm_optimizer="AdamW", esm_num_epochs=10, esm_batch_size=32,
                       esm_learning_rate=1e-3, esm_weight_decay=0.01, esm_optimizer="AdamW",
                       developers="stepstone fixtures", **({"version": "0.1.0"} if legacy else {}))
    torch.manual_seed(seed)
    esm = hfselect.ESM(config=config)
    with torch.no_grad():  # a visible map, not nn.Linear's tiny default init
        for param in esm.parameters():
            param.normal_(0, 0.5)
    if legacy:  # ESM.save_pretrained would convert to the current layout first
        PyTorchModelHubMixin.save_pretrained(esm, folder, config=config.to_dict())
    else:
        esm.save_pretrained(folder)
    config.save_pretrained(folder)
    card = ModelCard.from_template(ModelCardData(
        license="apache-2.0", datasets=[task], base_model=base,
        tags=["embedding_space_map", f"BaseLM:{base}"]), model_id=task, model_description="ESM")
    (folder / "README.md").write_text(str(card))


def esm_outputs(folder: Path, x):
    import torch

    hfselect = _quiet_hfselect()
    esm = hfselect.ESM.from_pretrained(str(folder))
    with torch.no_grad():
        return esm(torch.as_tensor(x)).numpy()


def hfselect_embeddings(model_path: str, texts: list[str], pairs: list[str] | None):
    """Embeddings exactly as hfselect computes them for a target: its Dataset.collate_fn
    (" [SEP] "-joined columns, padding to 128) and model_utils.get_pooled_output."""
    import datasets
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    _quiet_hfselect()
    from hfselect.dataset import Dataset
    from hfselect.model_utils import get_pooled_output

    columns = {"text": texts, "label": [0] * len(texts)}
    if pairs is not None:
        columns["text_pair"] = pairs
    dataset = Dataset(datasets.Dataset.from_dict(columns),
                      text_col=["text", "text_pair"] if pairs is not None else "text",
                      label_col="label", is_regression=False)
    model = AutoModel.from_pretrained(model_path).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    ids, mask, _ = dataset.collate_fn([dataset[i] for i in range(len(texts))], tokenizer)
    with torch.no_grad():
        return np.asarray(get_pooled_output(model, ids, mask).numpy())


def hfselect_scores(model_path: str, esm_folders: list[Path], texts, labels) -> list[float]:
    """hfselect's ESM-LogME scores (compute_scores) of ESMs for a classification target."""
    import contextlib
    import io

    import datasets
    from transformers import AutoModel, AutoTokenizer

    hfselect = _quiet_hfselect()
    dataset = hfselect.Dataset(datasets.Dataset.from_dict({"text": texts, "label": labels}),
                               text_col="text", label_col="label", is_regression=False)
    esms = [hfselect.ESM.from_pretrained(str(f)) for f in esm_folders]
    with contextlib.redirect_stdout(io.StringIO()):  # LogME prints every iteration
        return [float(s) for s in hfselect.compute_scores(
            dataset, AutoModel.from_pretrained(model_path), esms,
            AutoTokenizer.from_pretrained(model_path))]


def _named_copy(model: Path, name: str, root: Path) -> str:
    """The model under a path that contains ``name`` (hfselect decides pooling by the name)."""
    target = root / name
    shutil.copytree(model, target)
    return str(target)


def make(out: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    make_tiny_bert(out / "tiny-bert")
    make_esm(out / "esm-current", base=BASE, task="stepstone-test/toy-reviews", seed=1)
    make_esm(out / "esm-legacy", base=BASE, task="stepstone-test/toy-legacy", seed=2,
             legacy=True)
    make_esm(out / "esm-sentence-transformers", base=BASE_ST, task="stepstone-test/toy-st",
             seed=3)
    x = np.random.default_rng(0).standard_normal((8, DIM)).astype(np.float32)
    tensors = {"x": x}
    for folder in sorted(p for p in out.iterdir() if p.name.startswith("esm-")):
        tensors[f"out/{folder.name}"] = esm_outputs(folder, x)
    texts, pairs, labels = fixture_texts()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"pooler": _named_copy(out / "tiny-bert", BASE, Path(tmp)),
                 "mean": _named_copy(out / "tiny-bert", BASE_ST, Path(tmp))}
        for rule, path in paths.items():
            tensors[f"embed/{rule}/texts"] = hfselect_embeddings(path, texts, None)
            tensors[f"embed/{rule}/pairs"] = hfselect_embeddings(path, texts, pairs)
        pooler_esms = [out / "esm-current", out / "esm-legacy"]
        scores = hfselect_scores(paths["pooler"], pooler_esms, texts, labels)
    tensors["scores/pooler"] = np.asarray(scores, dtype=np.float64)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()},
              str(out / "expected.safetensors"))
    (out / "inputs.json").write_text(json.dumps(
        {"texts": texts, "pairs": pairs, "labels": labels,
         "scored_esms": [p.name for p in pooler_esms]}, indent=1, ensure_ascii=False) + "\n")


def apply(request_path: Path) -> None:
    """Live check: ``{"esms": [folders], "x": file, "embed": [{model, texts, pairs}],
    "scores": [{model, esms, texts, labels}], "out": file}``: hfselect's outputs of each ESM on
    x (``x/<dim>`` for its size), its embeddings and its ESM-LogME scores."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    request = json.loads(request_path.read_text())
    xs = load_file(request["x"])  # "x", or "x/<dim>" per embedding size
    out = {}
    for i, folder in enumerate(request["esms"]):
        dim = json.loads((Path(folder) / "config.json").read_text())["esm_embedding_dim"]
        out[f"out/{i}"] = esm_outputs(Path(folder), xs.get(f"x/{dim}", xs.get("x")))
    for i, job in enumerate(request.get("embed", [])):
        out[f"embed/{i}"] = hfselect_embeddings(job["model"], job["texts"], job.get("pairs"))
    for i, job in enumerate(request.get("scores", [])):
        out[f"scores/{i}"] = np.asarray(hfselect_scores(
            job["model"], [Path(f) for f in job["esms"]], job["texts"], job["labels"]))
    save_file({k: np.ascontiguousarray(v) for k, v in out.items()}, request["out"])


def versions() -> dict[str, str]:
    import huggingface_hub
    import numpy
    import torch
    import transformers

    return {"hfselect": _quiet_hfselect().__version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": numpy.__version__,
            "huggingface_hub": huggingface_hub.__version__, "python": sys.version.split()[0]}


if __name__ == "__main__":
    command, target = sys.argv[1], Path(sys.argv[2])
    if command == "make":
        make(target)
    elif command == "apply":
        apply(target)
    print(json.dumps(versions()))
