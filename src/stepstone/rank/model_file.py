"""Fitted models kept as versioned JSON beside a hub (the advice model, the learned selector):
one way to write, read and refuse them.

A file names its format and version; a reader refuses another format, a newer version or
fields it does not know, each with what to do, instead of failing somewhere in the ranking.
JSON only: the files travel with hubs, and reading one must not run code.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .._io import write_json
from ..errors import AdviceError

M = TypeVar("M", bound="JsonModelFile")


class JsonModelFile:
    """Save and load for a dataclass model; subclasses set the class variables and may
    override :meth:`validate`."""

    FORMAT: ClassVar[str]
    VERSION: ClassVar[int]
    WHAT: ClassVar[str]  # what the file is, for messages ("advice model")
    MAKE_ONE: ClassVar[str]  # how to make one, for messages

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.FORMAT, "version": self.VERSION, **asdict(self)}  # type: ignore[call-overload]

    def save(self, path: str | os.PathLike) -> Path:
        write_json(path, self.to_dict())
        return Path(path)

    @classmethod
    def load(cls: type[M], path: str | os.PathLike) -> M:
        path = Path(path)
        if not path.is_file():
            raise AdviceError(f"no {cls.WHAT} at {path}: {cls.MAKE_ONE}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise AdviceError(f"cannot read the {cls.WHAT} {path}: {err}") from err
        return cls.from_dict(data, origin=str(path))

    @classmethod
    def from_dict(cls: type[M], data: Any, *, origin: str | None = None) -> M:
        origin = origin or cls.WHAT
        if not isinstance(data, dict) or data.get("format") != cls.FORMAT:
            raise AdviceError(f"{origin} is not a stepstone {cls.WHAT} (no \"format\": "
                              f"\"{cls.FORMAT}\"): {cls.MAKE_ONE}")
        if data.get("version", 0) > cls.VERSION:
            raise AdviceError(f"{origin} has version {data['version']}; this stepstone reads "
                              f"version {cls.VERSION}: upgrade stepstone or refit it")
        try:
            model = cls(**{k: v for k, v in data.items() if k not in ("format", "version")})
        except TypeError as err:
            raise AdviceError(f"{origin} is malformed: {err}; refit it: {cls.MAKE_ONE}") from err
        model.validate(origin)
        return model

    def validate(self, origin: str) -> None:
        """Refuse (AdviceError) a model whose fields do not fit together."""
