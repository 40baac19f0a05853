"""ESMConfig: hfselect's config.json fields plus stepstone's own block under ``"stepstone"``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import ESMError

#: Version of stepstone's own ``"stepstone"`` block in config.json.
FORMAT_VERSION = 1
#: hfselect's layout version we write in ``"version"``: the 0.2 layout (``model.weight``).
#: Never "0.1.0": hfselect would build its legacy module and silently ignore our weights.
HFSELECT_LAYOUT_VERSION = "0.2.1"
ARCHITECTURES = ("linear",)
TASK_TYPES = ("classification", "regression")
#: hfselect fields that must hold integers (or null): a wrong type would end up in the catalog
_INT_FIELDS = ("num_examples", "seed", "esm_embedding_dim")


@dataclass
class ESMConfig:
    """Metadata of one ESM, readable by hfselect (``ESMConfig(**json)``) and by stepstone.

    The hfselect fields come first, with hfselect's names; ``stepstone`` holds what hfselect has
    no field for (embedding spec, task type, fit quality, library version...); unknown keys from
    other producers are kept in ``extra`` and written back unchanged.
    """

    base_model_name: str
    task_id: str
    task_subset: str | None = None
    text_column: str | list[str] | None = None
    label_column: str | None = None
    task_split: str | None = None
    num_examples: int | None = None
    seed: int | None = None
    language: str | None = None
    esm_architecture: str = "linear"
    esm_embedding_dim: int | None = None
    lm_num_epochs: int | None = None
    lm_batch_size: int | None = None
    lm_learning_rate: float | None = None
    lm_weight_decay: float | None = None
    lm_optimizer: str | None = None
    esm_num_epochs: int | None = None
    esm_batch_size: int | None = None
    esm_learning_rate: float | None = None
    esm_weight_decay: float | None = None
    esm_optimizer: str | None = None
    developers: str | None = None
    version: str | None = HFSELECT_LAYOUT_VERSION
    stepstone: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    # --- convenient views of the stepstone block ----------------------------------------------

    @property
    def task_type(self) -> str | None:
        return self.stepstone.get("task_type")

    @property
    def task_name(self) -> str:
        """stepstone's task name; for ESMs made elsewhere the dataset id (with its subset, as
        ``load_task`` names a Hugging Face dataset loaded with one)."""
        if self.stepstone.get("task_name"):
            return self.stepstone["task_name"]
        return f"{self.task_id}:{self.task_subset}" if self.task_subset else self.task_id

    @property
    def embedding(self) -> dict[str, Any]:
        return self.stepstone.get("embedding", {})

    @property
    def fit(self) -> dict[str, Any]:
        return self.stepstone.get("fit", {})

    # --- (de)serialisation --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name == "stepstone" and not value:
                continue
            out[f.name] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "config.json") -> ESMConfig:
        """Parse and check a config.json object; raises ESMError naming the bad field.

        Every field that stepstone reads (and the catalog stores) is type-checked, so a hostile
        or broken config is rejected here instead of failing later in the middle of a ranking.
        """
        if not isinstance(data, dict):
            raise ESMError(f"{where}: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}
        if "embedding_dim" in extra and "esm_embedding_dim" not in values:  # oldest hfselect
            values["esm_embedding_dim"] = extra["embedding_dim"]
        for name in ("base_model_name", "task_id"):
            if not isinstance(values.get(name), str) or not values[name].strip():
                raise ESMError(f"{where}: field {name!r} must be a non-empty string "
                               f"(got {_short(values.get(name))})")
        architecture = values.get("esm_architecture") or "linear"
        if architecture not in ARCHITECTURES:
            raise ESMError(f"{where}: unknown esm_architecture {_short(architecture)}; stepstone "
                           f"reads {', '.join(ARCHITECTURES)} ESMs")
        values["esm_architecture"] = architecture
        for name in _INT_FIELDS:
            values[name] = _optional_int(values.get(name), f"{where}: field {name!r}")
        if values["esm_embedding_dim"] is not None and values["esm_embedding_dim"] <= 0:
            raise ESMError(f"{where}: esm_embedding_dim must be a positive integer "
                           f"(got {values['esm_embedding_dim']})")
        for name in ("task_subset", "version"):
            if values.get(name) is not None and not isinstance(values[name], str):
                raise ESMError(f"{where}: field {name!r} must be a string or null "
                               f"(got {_short(values[name])})")
        values["stepstone"] = _checked_block(values.get("stepstone", {}), where)
        return cls(**values, extra=extra)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _optional_int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():  # 1000.0 from some JSON writers
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ESMError(f"{what} must be an integer or null (got {_short(value)})")
    if abs(value) >= 2**63:  # the catalog (SQLite) and numpy hold 64-bit integers
        raise ESMError(f"{what} is out of range (got {_short(value)}): use a 64-bit integer")
    return value


def _optional_number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ESMError(f"{what} must be a finite number or null (got {_short(value)})")
    return float(value)


def _checked_block(block: Any, where: str) -> dict[str, Any]:
    """Check the parts of the ``"stepstone"`` block that ranking and the catalog read."""
    if not isinstance(block, dict):
        raise ESMError(f"{where}: field 'stepstone' must be an object (got {_short(block)})")
    what = f"{where}: field 'stepstone."
    for name in ("task_name", "library_version"):
        if block.get(name) is not None and not isinstance(block[name], str):
            raise ESMError(f"{what}{name}' must be a string (got {_short(block[name])})")
    if block.get("task_type") is not None and block["task_type"] not in TASK_TYPES:
        raise ESMError(f"{what}task_type' must be one of {', '.join(TASK_TYPES)} "
                       f"(got {_short(block['task_type'])})")
    _optional_int(block.get("num_classes"), f"{what}num_classes'")
    fit = block.get("fit", {})
    if not isinstance(fit, dict):
        raise ESMError(f"{what}fit' must be an object (got {_short(fit)})")
    for name in ("cosine", "mse"):
        _optional_number(fit.get(name), f"{what}fit.{name}'")
    for name in ("embedding", "origin"):
        if block.get(name) is not None and not isinstance(block[name], dict):
            raise ESMError(f"{what}{name}' must be an object (got {_short(block[name])})")
    if block.get("embedding"):
        _check_embedding(block["embedding"], f"{what}embedding'")
    return block


def _check_embedding(spec: dict[str, Any], what: str) -> None:
    from ..encode.models import EmbeddingSpec
    from ..errors import InvalidOptionError

    try:
        parsed = EmbeddingSpec.from_dict(spec)
    except (KeyError, TypeError, ValueError, OverflowError, InvalidOptionError) as err:
        raise ESMError(f"{what} is not a valid embedding spec ({err})") from err
    if parsed.max_length <= 0:
        raise ESMError(f"{what}: max_length must be positive (got {parsed.max_length})")
