"""ESMConfig: hfselect's config.json fields plus stepstone's own block under ``"stepstone"``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import ESMError

#: Version of stepstone's own ``"stepstone"`` block in config.json.
FORMAT_VERSION = 1
#: hfselect's layout version we write in ``"version"``: the 0.2 layout (``model.weight``).
#: Never "0.1.0": hfselect would build its legacy module and silently ignore our weights.
HFSELECT_LAYOUT_VERSION = "0.2.1"
ARCHITECTURES = ("linear",)


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
        return self.stepstone.get("task_name") or self.task_id

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
        """Parse and check a config.json object; raises ESMError naming the bad field."""
        if not isinstance(data, dict):
            raise ESMError(f"{where}: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}
        if "embedding_dim" in extra and "esm_embedding_dim" not in values:  # oldest hfselect
            values["esm_embedding_dim"] = extra["embedding_dim"]
        for name in ("base_model_name", "task_id"):
            if not isinstance(values.get(name), str) or not values[name]:
                raise ESMError(f"{where}: field {name!r} must be a non-empty string "
                               f"(got {values.get(name)!r})")
        architecture = values.get("esm_architecture") or "linear"
        if architecture not in ARCHITECTURES:
            raise ESMError(f"{where}: unknown esm_architecture {architecture!r}; stepstone "
                           f"reads {', '.join(ARCHITECTURES)} ESMs")
        values["esm_architecture"] = architecture
        dim = values.get("esm_embedding_dim")
        if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0):
            raise ESMError(f"{where}: esm_embedding_dim must be a positive integer (got {dim!r})")
        block = values.get("stepstone", {})
        if not isinstance(block, dict):
            raise ESMError(f"{where}: field 'stepstone' must be an object")
        values["stepstone"] = block
        return cls(**values, extra=extra)
