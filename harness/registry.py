"""The plugin manager: registers the built-in plugin modules from ``BUILTIN_MODULES`` (no install
metadata needed), then every module of the ``ftcot`` entry-point group, and builds one registry
per kind.

``FTCOT_LOAD_PLUGINS=pkg1,pkg2`` limits third-party loading to the named distributions
(the built-ins always load); an empty value loads none of them.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as metadata
import os
import sys
from dataclasses import dataclass
from typing import Any

import pluggy

from ftcot import __version__, hookspecs
from ftcot.contracts.filter import Filter
from ftcot.contracts.reporter import Reporter
from ftcot.contracts.student import Student
from ftcot.contracts.task import Task
from ftcot.contracts.teacher import Teacher
from ftcot.errors import UserError

KINDS = ("task", "teacher", "student", "filter", "reporter")
BUILTIN_PACKAGE = "ftcot"
ENTRY_POINT_GROUP = "ftcot"
BASES: dict[str, type] = {"task": Task, "teacher": Teacher, "student": Student, "filter": Filter, "reporter": Reporter}
BUILTIN_MODULES = (
    "ftcot.tasks.plugin",
    "ftcot.teachers.plugin",
    "ftcot.students.plugin",
    "ftcot.plugins.filters",
    "ftcot.plugins.reporters",
)


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin class and where it came from."""

    kind: str
    name: str
    package: str
    version: str
    cls: type

    @property
    def description(self) -> str:
        doc = getattr(self.cls, "description", None) or (self.cls.__doc__ or "")
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "name": self.name,
            "package": self.package,
            "version": self.version,
            "description": self.description,
        }


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"litellm:openai/gpt-4o-mini"`` -> ``("litellm", "openai/gpt-4o-mini")``; no colon -> argument None."""
    name, sep, argument = spec.partition(":")
    name = name.strip()
    if not name:
        raise UserError(f"empty plugin name in {spec!r}: write PLUGIN[:ARGUMENT], e.g. hf:gpt2")
    return name, (argument if sep else None)


class Registry:
    """Every plugin class by kind and name."""

    def __init__(self, plugins: list[PluginInfo], warnings: list[str]):
        self._by_key = {(p.kind, p.name): p for p in plugins}
        self.warnings = warnings

    def all(self, kind: str | None = None) -> list[PluginInfo]:
        items = [p for p in self._by_key.values() if kind is None or p.kind == kind]
        return sorted(items, key=lambda p: (KINDS.index(p.kind), p.name))

    def names(self, kind: str) -> list[str]:
        return [p.name for p in self.all(kind)]

    def get(self, kind: str, name: str) -> PluginInfo:
        try:
            return self._by_key[(kind, name)]
        except KeyError:
            known = ", ".join(self.names(kind)) or "none"
            raise UserError(
                f"unknown {kind} {name!r}; known {kind}s: {known} (`ftcot plugins` lists them)"
            ) from None

    def resolve(self, kind: str, spec: str) -> tuple[type, str | None]:
        """The class named by ``PLUGIN[:ARGUMENT]`` and the argument."""
        name, argument = split_spec(spec)
        return self.get(kind, name).cls, argument


def _allowed_third_party() -> set[str] | None:
    raw = os.environ.get("FTCOT_LOAD_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _load_plugins(pm: pluggy.PluginManager) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Register the built-ins, then every entry point's module; return plugin name -> (package, version) and warnings."""
    owners: dict[str, tuple[str, str]] = {}
    warnings: list[str] = []
    for module_name in BUILTIN_MODULES:
        plugin_name = f"{BUILTIN_PACKAGE}:{module_name}"
        pm.register(importlib.import_module(module_name), name=plugin_name)
        owners[plugin_name] = (BUILTIN_PACKAGE, __version__)
    allowed = _allowed_third_party()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        package = dist.name if dist is not None else ep.value.split(".")[0]
        version = dist.version if dist is not None else "?"
        if package == BUILTIN_PACKAGE or (allowed is not None and package not in allowed):
            continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party plugin must not stop the rest
            warnings.append(
                f"plugin package {package!r} failed to load ({ep.value}): {type(exc).__name__}: {exc}"
            )
            continue
        plugin_name = f"{package}:{ep.name}"
        if pm.is_registered(module) or pm.has_plugin(plugin_name):
            continue
        pm.register(module, name=plugin_name)
        owners[plugin_name] = (package, version)
    return owners, warnings


def _collect(pm: pluggy.PluginManager, owners: dict[str, tuple[str, str]]) -> list[PluginInfo]:
    found: dict[tuple[str, str], PluginInfo] = {}
    for kind in KINDS:
        caller = getattr(pm.hook, f"ftcot_register_{kind}s")
        for impl in caller.get_hookimpls():
            package, version = owners.get(impl.plugin_name, (impl.plugin_name, "?"))

            def register(cls: type, _kind: str = kind, _pkg: str = package, _ver: str = version) -> None:
                base = BASES[_kind]
                if not (isinstance(cls, type) and issubclass(cls, base)):
                    raise UserError(
                        f"{_kind} plugin {cls!r} from package {_pkg!r} is not a subclass of "
                        f"ftcot.api.{base.__name__}: subclass it and register the class"
                    )
                name = getattr(cls, "name", None)
                if not isinstance(name, str) or not name:
                    raise UserError(
                        f"{_kind} plugin {cls!r} from package {_pkg!r} has no `name`: give the class a name attribute"
                    )
                key = (_kind, name)
                if key in found:
                    other = found[key].package
                    raise UserError(
                        f"{_kind} {name!r} is registered by both {other!r} and {_pkg!r}: "
                        f"uninstall one, or limit loading with FTCOT_LOAD_PLUGINS"
                    )
                found[key] = PluginInfo(_kind, name, _pkg, _ver, cls)

            impl.function(register=register)
    return list(found.values())


def make_plugin_manager() -> tuple[pluggy.PluginManager, dict[str, tuple[str, str]], list[str]]:
    pm = pluggy.PluginManager("ftcot")
    pm.add_hookspecs(hookspecs)
    owners, warnings = _load_plugins(pm)
    pm.check_pending()
    return pm, owners, warnings


@functools.cache
def registry() -> Registry:
    """The process-wide registry; warnings for broken plugins go to stderr once."""
    pm, owners, warnings = make_plugin_manager()
    reg = Registry(_collect(pm, owners), warnings)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    return reg


def create(kind: str, spec: str, **options: Any) -> Any:
    """Instantiate the plugin named by ``spec``: ``cls.from_spec(argument, **options)``."""
    cls, argument = registry().resolve(kind, spec)
    return cls.from_spec(argument, **options)
