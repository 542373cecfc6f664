"""The plugin surface is documented: every hook and every abstract or public method of a contract
has a docstring, and the plugin author's guide names each one."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from pathlib import Path

import pytest

from ftcot import api, hookspecs
from ftcot.registry import HOOKS

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
CONTRACTS = (api.Task, api.DatasetTask, api.GeneratedTask, api.Teacher, api.Student, api.StudentModel,
             api.Filter, api.Reporter, api.Sink)


def contract_methods(cls: type) -> list[str]:
    """The methods a plugin writes or calls: abstract ones and public ones defined on ``cls``."""
    names = set(getattr(cls, "__abstractmethods__", ()))
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (classmethod, staticmethod, property)) or inspect.isfunction(value):
            names.add(name)
    return sorted(names)


def undocumented(cls: type) -> list[str]:
    """``Class.method`` for each contract method without a docstring."""
    missing = []
    for name in contract_methods(cls):
        value = inspect.getattr_static(cls, name)
        target = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
        if not (getattr(target, "__doc__", None) or "").strip():
            missing.append(f"{cls.__name__}.{name}")
    return missing


def test_checker_finds_a_method_without_a_docstring() -> None:
    class Contract(ABC):
        @abstractmethod
        def documented(self) -> None:
            """Has one."""

        @abstractmethod
        def _bare(self) -> None: ...

        def public(self) -> None:
            pass

    assert undocumented(Contract) == ["Contract._bare", "Contract.public"]


@pytest.mark.parametrize("cls", CONTRACTS, ids=lambda c: c.__name__)
def test_contract_methods_have_docstrings(cls: type) -> None:
    assert undocumented(cls) == []


def test_hooks_have_docstrings_and_are_in_the_guide() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name
        assert f"`{name}(register)`" in text, name


@pytest.mark.parametrize("cls", CONTRACTS, ids=lambda c: c.__name__)
def test_guide_names_every_method_a_plugin_must_write(cls: type) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert f"`{cls.__name__}`" in text
    for name in sorted(getattr(cls, "__abstractmethods__", ())):
        assert f"{name}(" in text or f"`{name}`" in text, f"{cls.__name__}.{name} is not in {GUIDE.name}"
