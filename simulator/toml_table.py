"""A table of a city file being read, that words every error as ``file: path.field reason``.

``ConfigError("old-town.toml: generate[2].spaces is -4, below the minimum of 1")``:
the file, where in it, and what is wrong, so a person can fix it without
reading the simulator.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Mapping

from citylab.errors import ConfigError


class Table:
    """A TOML table being read, that words its errors as ``file: path.field reason``."""

    def __init__(self, data: Mapping[str, Any], where: str, source: str) -> None:
        """``data`` the table, ``where`` its path ("devices[3]."), ``source`` the file's name."""
        self.data, self.where, self.source = data, where, source

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.where}{key} {reason}")

    def has(self, key: str) -> bool:
        return key in self.data

    def optional(self, key: str) -> Any:
        return self.data.get(key)

    def required(self, key: str, hint: str = "") -> Any:
        if key not in self.data:
            raise self.error(key, "is missing" + (f" ({hint})" if hint else ""))
        return self.data[key]

    def text(self, key: str) -> str:
        value = self.required(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be non-empty text, not {value!r}")
        return value

    def number(self, key: str, low: float, high: float, hint: str = "") -> float:
        value = self.required(key, hint)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(key, f"must be a number, not {value!r}")
        if not low <= value <= high:
            raise self.error(key, f"is {value}, outside {low:g} to {high:g}")
        return float(value)

    def reject_unknown(self, known: tuple[str, ...], what: str = "a city file") -> None:
        for key in self.data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                advice = f"did you mean {close[0]!r}?" if close else f"use {', '.join(known)}"
                raise self.error(key, f"is not a field of {what}: {advice}")
