"""The one parser of ``NAME=VALUE`` text: plugin arguments (``coin_flip:flips=4,train=20``,
``tiny-llama:layers=2``), ``--option KEY=VALUE`` and ``--only FIELD=VALUE,...``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ftcot.errors import UserError


def split_assignment(text: str, what: str) -> tuple[str, str]:
    """``"name = value"`` -> ``("name", "value")``; UserError naming ``what`` without a name and ``=``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UserError(f"{what}: write NAME=VALUE, got {text.strip()!r}")
    return name.strip(), value.strip()


def split_assignments(text: str, what: str, starts: Collection[str] | None = None) -> list[tuple[str, str]]:
    """``"a=1,b=2"`` -> ``[("a", "1"), ("b", "2")]`` (empty pieces skipped).

    With ``starts``, a comma begins a new pair only where one of those names and ``=`` follow
    it; any other piece continues the previous value, so values may hold commas.
    """
    pairs: list[list[str]] = []
    for piece in text.split(","):
        name = piece.partition("=")[0].strip()
        if starts is not None and pairs and not ("=" in piece and name in starts):
            pairs[-1][1] += "," + piece
            continue
        if not piece.strip():
            continue
        pairs.append(list(split_assignment(piece, what)))
    return [(name, value.strip()) for name, value in pairs]


def parse_options(text: str | None, known: dict[str, type], what: str) -> dict[str, Any]:
    """``"layers=2,dim=128"`` -> ``{"layers": 2, "dim": 128}``, checking names and types."""
    values: dict[str, Any] = {}
    allowed = ", ".join(f"{k}=" for k in known)
    for name, raw in split_assignments(text or "", f"bad {what} option (NAME one of {allowed})"):
        if name not in known:
            raise UserError(f"bad {what} option {name!r}: write NAME=VALUE with NAME one of {allowed}")
        try:
            values[name] = known[name](raw)
        except ValueError:
            kind = {int: "an integer", float: "a number"}.get(known[name], known[name].__name__)
            raise UserError(f"bad {what} option {name}={raw!r}: {name} must be {kind}") from None
    return values
