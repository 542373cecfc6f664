"""The one parser of ``NAME=VALUE`` text: plugin arguments (``coin_flip:flips=4,train=20``,
``tiny-llama:layers=2``), ``--option KEY=VALUE`` and ``--only FIELD=VALUE,...``."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from ftcot.errors import UserError

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


def flag(value: Any, name: str) -> bool:
    """An option given as true/false, yes/no, 1/0 (from the command line or a config)."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in FALSE_WORDS or word in TRUE_WORDS:
            return word in TRUE_WORDS
        raise UserError(f"{name} must be true or false (got {value!r})")
    return bool(value)


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


_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "text", dict: "a table"}


@dataclass(frozen=True)
class Param:
    """One parameter (or option) a plugin takes: its name, type, default, a one-line help, its
    bounds or choices, and whether it is part of a result's key.

    Generated tasks, teachers and students list theirs in a class attribute ``params``; the spec
    parsers, option validation, cell keys, ``ftcot tasks`` and ``ftcot plugins --json`` all read
    that one declaration. ``keyed=False``: an option that changes how a result is obtained (an
    address, a concurrency, a poll interval), not what it is; it stays out of cell keys.
    ``check``: a further check of a value, returning the problem as a phrase (or None).
    """

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    choices: tuple[Any, ...] | None = None
    keyed: bool = True
    check: Callable[[Any], str | None] | None = field(default=None, compare=False, repr=False)

    def convert(self, raw: Any, what: str) -> Any:
        """``raw`` (text from a spec, or a value from a config) as this parameter's type."""
        if raw is None or self.type in (str, object) or (isinstance(raw, self.type) and not isinstance(raw, bool)):
            return raw if self.type is not float or raw is None else float(raw)
        text = str(raw).strip()
        try:
            if self.type is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                return text.lower() in ("true", "1", "yes")
            return self.type(text)
        except ValueError:
            word = _TYPE_WORDS.get(self.type, self.type.__name__)
            raise UserError(f"{what}: {self.name} must be {word}, got {text!r}") from None

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (already typed: from a config, JSON or ``convert``) as a
        phrase such as ``must be >= 1, got 0``; None when it is fine. None itself is fine (not given)."""
        if value is None:
            return None
        if not _has_type(value, self.type):
            return f"must be {_TYPE_WORDS.get(self.type, self.type.__name__)}, got {value!r}"
        if self.type in (int, float):
            if not math.isfinite(value):
                return f"must be a finite number, got {value!r}"
            for word, bound, bad in ((">=", self.ge, lambda v, b: v < b), (">", self.gt, lambda v, b: v <= b),
                                     ("<=", self.le, lambda v, b: v > b)):
                if bound is not None and bad(value, bound):
                    return f"must be {word} {bound:g}, got {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}, got {value!r}"
        return self.check(value) if self.check is not None else None

    def as_dict(self) -> dict[str, Any]:
        data = {"name": self.name, "type": self.type.__name__, "default": self.default, "help": self.help}
        bounds = {"ge": self.ge, "gt": self.gt, "le": self.le,
                  "choices": list(self.choices) if self.choices is not None else None}
        return data | {k: v for k, v in bounds.items() if v is not None} | {"keyed": self.keyed}

    def __str__(self) -> str:
        return f"{self.name}={self.default}" if self.default is not None else self.name


def _has_type(value: Any, kind: type) -> bool:
    """Strict types: no ``"5"`` for 5 and no ``true`` for 1; an integer is a number."""
    if kind is object:
        return True
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def declared_params(cls: type) -> tuple[Param, ...]:
    """The ``params`` a plugin class declares, in order (a ``{name: default}`` dict is accepted too)."""
    raw = getattr(cls, "params", ()) or ()
    if isinstance(raw, dict):
        return tuple(Param(k, type(v) if v is not None else str, v) for k, v in raw.items())
    params = tuple(raw)
    bad = [p for p in params if not isinstance(p, Param)]
    if bad:
        raise UserError(f"{cls.__name__}.params must list ftcot.api.Param entries, got {bad[0]!r}")
    return params


def parse_params(text: str | None, params: tuple[Param, ...], what: str,
                 extra: Collection[str] = ()) -> dict[str, Any]:
    """``"layers=2,dim=128"`` -> ``{"layers": 2, "dim": 128}`` for the declared ``params``
    (names in ``extra`` are passed through as text), naming the known parameters on a mistake."""
    by_name = {p.name: p for p in params}
    known = ", ".join([*by_name, *extra]) or "none"
    values: dict[str, Any] = {}
    for name, raw in split_assignments(text or "", f"{what} (parameters: {known})"):
        if name in values:
            raise UserError(f"{what}: parameter {name!r} is given twice; give it once")
        if name in extra:
            values[name] = raw
        elif name in by_name:
            values[name] = by_name[name].convert(raw, what)
        else:
            raise UserError(f"{what}: unknown parameter {name!r}; parameters: {known}")
    return values


LORA_PARAMS = (
    Param("r", int, 16, "adapter rank"),
    Param("alpha", float, None, "scaling (default 2r)"),
    Param("dropout", float, 0.0, "adapter dropout"),
    Param("targets", str, None, "modules to adapt, joined with +"),
)


def parse_lora(spec: str) -> dict[str, Any]:
    """Check a LoRA spec; its values with defaults filled in (alpha = 2r, dropout 0)."""
    values = parse_params(spec, LORA_PARAMS, f"bad --lora {spec!r}")
    r = values.get("r", 16)
    if r < 1:
        raise UserError(f"bad --lora {spec!r}: r must be >= 1")
    if not values.get("alpha", 1.0) > 0 or values.get("alpha", 1.0) == float("inf"):
        raise UserError(f"bad --lora {spec!r}: alpha must be a finite number > 0")
    if not 0.0 <= values.get("dropout", 0.0) < 1.0:
        raise UserError(f"bad --lora {spec!r}: dropout must be in [0, 1)")
    targets = values.get("targets")
    return {
        "r": r,
        "alpha": values.get("alpha", 2.0 * r),
        "dropout": values.get("dropout", 0.0),
        "targets": [t for t in targets.split("+") if t] if targets else None,
    }
