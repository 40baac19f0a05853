"""String options as enums whose parse error lists the valid values."""

from __future__ import annotations

import difflib
from enum import StrEnum
from typing import Self

from .errors import InvalidOptionError


class Option(StrEnum):
    """A string option. ``Option.parse("x")`` accepts the value in any case, or the enum itself."""

    @classmethod
    def parse(cls, value: str | Self) -> Self:
        if isinstance(value, cls):
            return value
        text = str(value).strip().lower().replace("_", "-")
        for member in cls:
            if member.value == text:
                return member
        valid = [member.value for member in cls]
        hint = difflib.get_close_matches(text, valid, n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise InvalidOptionError(
            f"{value!r} is not a valid {cls.option_name()}; choose one of {', '.join(valid)}."
            + suggestion
        )

    @classmethod
    def option_name(cls) -> str:
        # "TaskType" -> "task type"
        name = cls.__name__
        words = [name[0].lower()]
        for char in name[1:]:
            words.append(f" {char.lower()}" if char.isupper() else char)
        return "".join(words)

    @classmethod
    def values(cls) -> list[str]:
        return [member.value for member in cls]


def did_you_mean(text: str, valid: list[str]) -> str:
    """`` Did you mean 'x'?`` for the closest valid value, else ``""`` (for error messages)."""
    hint = difflib.get_close_matches(text.strip().lower(), valid, n=1)
    return f" Did you mean {hint[0]!r}?" if hint else ""


def some_of(values: list, *, first: int = 8) -> str:
    """The first few values and a count, for error messages: a list of 300 classes must not
    become a 2,500-character line. ``some_of([1, 2, 3], first=2)`` -> ``"1, 2, ... (3 in all)"``."""
    shown = ", ".join(map(str, values[:first]))
    return shown if len(values) <= first else f"{shown}, ... ({len(values)} in all)"
