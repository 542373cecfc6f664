"""The plugin manager: registers the built-in plugin modules from ``BUILTIN_MODULES`` (no install
metadata needed), then every module of the ``ftcot`` entry-point group, and builds one registry
per kind.

``FTCOT_LOAD_PLUGINS=pkg1,pkg2`` limits third-party loading to the named distributions
(the built-ins always load); an empty value loads none of them.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata as metadata
import logging
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pluggy

from ftcot import __version__, hookspecs
from ftcot.contracts.filter import Filter
from ftcot.contracts.reporter import Reporter
from ftcot.contracts.student import Student
from ftcot.contracts.task import Task
from ftcot.contracts.teacher import Teacher
from ftcot.errors import UserError
from ftcot.specs import Param, declared_params

log = logging.getLogger(__name__)
KINDS = ("task", "teacher", "student", "filter", "reporter")
BUILTIN_PACKAGE = "ftcot"
ENTRY_POINT_GROUP = "ftcot"
FAILURE_LINE_MAX = 300  # characters of a plugin failure shown in a listing row or an error line
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
    """One registered plugin class and where it came from; ``problem`` is set when it was skipped."""

    kind: str
    name: str
    package: str
    version: str
    cls: type[Any]
    problem: str | None = None

    @property
    def description(self) -> str:
        doc = getattr(self.cls, "description", None) or (self.cls.__doc__ or "")
        return doc.strip().splitlines()[0] if isinstance(doc, str) and doc.strip() else ""

    @property
    def params(self) -> tuple[Param, ...]:
        """The parameters the class declares (none where the declaration is broken)."""
        try:
            return declared_params(self.cls)
        except UserError:
            return ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "package": self.package,
            "version": self.version,
            "class": f"{self.cls.__module__}.{self.cls.__qualname__}",
            "description": self.description,
            "params": [p.as_dict() for p in self.params],
            "problem": self.problem,
        }


@dataclass(frozen=True)
class PackageProblem:
    """A third-party package skipped as a whole or in part (it failed to import, a hook is
    misspelled, unmarked or raised): ``ftcot plugins`` lists it in a ``package`` row."""

    name: str  # the entry point's name
    package: str
    version: str
    where: str  # the entry point's value, ``module[:object]``
    problem: str
    kind: str = "package"
    description: str = ""
    params: tuple[Param, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "package": self.package, "version": self.version,
                "class": self.where, "description": self.description, "params": [p.as_dict() for p in self.params],
                "problem": self.problem}


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"litellm:openai/gpt-4o-mini"`` -> ``("litellm", "openai/gpt-4o-mini")``; no colon -> argument None."""
    name, sep, argument = spec.partition(":")
    name = name.strip()
    if not name:
        raise UserError(f"empty plugin name in {spec!r}: write PLUGIN[:ARGUMENT], e.g. hf:gpt2")
    return name, (argument if sep else None)


class Registry:
    """Every plugin class by kind and name, and those skipped with their problem."""

    def __init__(self, plugins: list[PluginInfo], warnings: list[str],
                 skipped: list[PluginInfo] | None = None, modules: dict[str, str] | None = None,
                 packages: list[PackageProblem] | None = None):
        self._by_key = {(p.kind, p.name): p for p in plugins}
        self.warnings = warnings
        self.skipped = list(skipped or [])
        self.packages = list(packages or [])  # third-party packages with a package-wide problem
        self.modules = dict(modules or {})  # top-level module name -> third-party package

    def all(self, kind: str | None = None) -> list[PluginInfo]:
        items = [p for p in self._by_key.values() if kind is None or p.kind == kind]
        return sorted(items, key=lambda p: (KINDS.index(p.kind), p.name))

    def rows(self, kind: str | None = None) -> list[PluginInfo | PackageProblem]:
        """What ``ftcot plugins`` lists: the loaded plugins, the skipped ones, then the packages
        with a problem of their own (kind ``package``)."""
        rows: list[PluginInfo | PackageProblem] = [*self.all(kind), *(p for p in self.skipped if kind in (None, p.kind))]
        return rows + [p for p in self.packages if kind in (None, "package")]

    def names(self, kind: str) -> list[str]:
        return [p.name for p in self.all(kind)]

    def get(self, kind: str, name: str) -> PluginInfo:
        try:
            return self._by_key[(kind, name)]
        except KeyError:
            pass
        for p in self.skipped:
            if p.kind == kind and p.name == name:
                raise UserError(f"{kind} {name!r} from package {p.package!r} was not loaded: {p.problem}")
        known = ", ".join(self.names(kind)) or "none"
        raise UserError(f"unknown {kind} {name!r}; known {kind}s: {known} (`ftcot plugins` lists them)")

    def resolve(self, kind: str, spec: str) -> tuple[type[Any], str | None]:
        """The class named by ``PLUGIN[:ARGUMENT]`` and the argument."""
        name, argument = split_spec(spec)
        return self.get(kind, name).cls, argument

    def blame(self, exc: BaseException) -> str | None:
        """The third-party package whose code raised ``exc`` (innermost frame first), if any."""
        tb = exc.__traceback__
        package = None
        while tb is not None:
            module = str(tb.tb_frame.f_globals.get("__name__", ""))
            package = self.modules.get(module.split(".")[0], package)
            tb = tb.tb_next
        return package


def _allowed_third_party() -> set[str] | None:
    raw = os.environ.get("FTCOT_LOAD_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


HOOKS = tuple(f"ftcot_register_{kind}s" for kind in KINDS)
_EXTRA_PLUGINS: list[tuple[str, object]] = []  # (package, plugin object): ``ftcot.testing.registered``


def _hook_problem(pm: pluggy.PluginManager, module: object) -> str | None:
    """Why a plugin module's hooks cannot be registered (a misspelled hook), else None."""
    for attr in dir(module):
        if pm.parse_hookimpl_opts(module, attr) is not None and attr not in HOOKS:
            close = difflib.get_close_matches(attr, HOOKS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"the hooks are {', '.join(HOOKS)}"
            return f"unknown hook {attr}: {hint}"
    return None


def _unmarked_hooks(module: object) -> list[str]:
    return [name for name in HOOKS if callable(getattr(module, name, None))
            and not hasattr(getattr(module, name), "ftcot_impl")]


@dataclass
class _Loaded:
    """What loading the plugin modules found: owners by plugin name, modules, warnings."""

    owners: dict[str, tuple[str, str]] = field(default_factory=dict)
    modules: dict[str, object] = field(default_factory=dict)  # plugin name -> module (third-party)
    warnings: list[str] = field(default_factory=list)
    packages: list[PackageProblem] = field(default_factory=list)
    entry_points: dict[str, str] = field(default_factory=dict)  # plugin name -> entry point value

    def package_problem(self, plugin_name: str, problem: str, warning: str,
                        owner: tuple[str, str] | None = None) -> None:
        """Warn once and list the package of ``plugin_name`` (``package:entry-point``, owned by
        ``owner``: package and version, else as recorded) with ``problem``."""
        package, version = owner or self.owners.get(plugin_name, (plugin_name.partition(":")[0], "?"))
        self.warnings.append(warning)
        self.packages.append(PackageProblem(plugin_name.partition(":")[2], package, version,
                                            self.entry_points.get(plugin_name, ""), problem))


def _register(pm: pluggy.PluginManager, loaded: _Loaded, module: object, plugin_name: str,
              package: str, version: str, where: str) -> None:
    problem = _hook_problem(pm, module)
    if problem is None:
        try:
            pm.register(module, name=plugin_name)
        except pluggy.PluginValidationError as exc:
            problem = str(exc).splitlines()[0]
    if problem is not None:
        loaded.package_problem(plugin_name, problem, f"plugin package {package!r} ({where}): {problem}; skipped",
                               (package, version))
        return
    loaded.owners[plugin_name] = (package, version)
    loaded.modules[plugin_name] = module


def _load_plugins(pm: pluggy.PluginManager) -> _Loaded:
    """Register the built-ins, then every entry point's module, then in-process test plugins."""
    loaded = _Loaded()
    for module_name in BUILTIN_MODULES:
        plugin_name = f"{BUILTIN_PACKAGE}:{module_name}"
        pm.register(importlib.import_module(module_name), name=plugin_name)
        loaded.owners[plugin_name] = (BUILTIN_PACKAGE, __version__)
    allowed = _allowed_third_party()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        package = dist.name if dist is not None else ep.value.split(".")[0]
        version = dist.version if dist is not None else "?"
        if package == BUILTIN_PACKAGE or (allowed is not None and package not in allowed):
            continue
        plugin_name = f"{package}:{ep.name}"
        loaded.entry_points[plugin_name] = ep.value
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party plugin must not stop the rest
            problem = f"failed to load: {type(exc).__name__}: {exc}"
            loaded.package_problem(plugin_name, problem, f"plugin package {package!r} failed to load ({ep.value}): "
                                   f"{type(exc).__name__}: {exc}", (package, version))
            continue
        if pm.is_registered(module) or pm.has_plugin(plugin_name):
            continue
        _register(pm, loaded, module, plugin_name, package, version, ep.value)
    for package, plugin in _EXTRA_PLUGINS:
        _register(pm, loaded, plugin, f"{package}:{id(plugin)}", package, "0", "in-process")
    return loaded


def _check_class(kind: str, obj: object) -> str | None:
    """What is wrong with a registered plugin class, or None."""
    base = BASES[kind]
    if not isinstance(obj, type):
        return (f"registered an instance of {type(obj).__name__} where a class is expected: "
                f"register({type(obj).__name__}), not an instance")
    if not issubclass(obj, base):
        return f"{kind} class {obj.__name__} is not a subclass of ftcot.api.{base.__name__}"
    missing = sorted(getattr(obj, "__abstractmethods__", ()))
    if missing:
        return f"{kind} class {obj.__name__} does not implement {', '.join(missing)}"
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        return f"{kind} class {obj.__name__} has no `name`: give the class a name attribute"
    try:
        declared_params(obj)
    except UserError as exc:
        return str(exc)
    return None


def _origin(cls: type) -> tuple[str, str]:
    """Where a class is defined: its qualified name and its module's file (else module name)."""
    path = getattr(sys.modules.get(cls.__module__), "__file__", None)
    return cls.__qualname__, os.path.realpath(path) if path else cls.__module__


def _same_class(a: type, b: type) -> bool:
    """One class, or one class defined again by the same source (a module reloaded, or imported
    under a second name): an installed plugin's test registering it again is no clash."""
    return a is b or _origin(a) == _origin(b)


def _report_unmarked(loaded: _Loaded, counts: dict[str, int]) -> None:
    """A package row for each third-party module with a hook lacking ``@hookimpl`` (never called)
    or that registered nothing; ``counts``: classes registered per plugin name."""
    for plugin_name, module in loaded.modules.items():
        unmarked_among_marked = _unmarked_hooks(module) if counts.get(plugin_name) else []
        if unmarked_among_marked:  # the marked hooks ran; these were never called
            problem = (f"{', '.join(unmarked_among_marked)} lacks @hookimpl (from ftcot.api import hookimpl), "
                       f"so it was never called")
            loaded.package_problem(plugin_name, problem, f"plugin package {loaded.owners[plugin_name][0]!r}: {problem}")
        if not counts.get(plugin_name):
            package = loaded.owners[plugin_name][0]
            unmarked = _unmarked_hooks(module)
            hint = (f"{', '.join(unmarked)} lacks @hookimpl (from ftcot.api import hookimpl)" if unmarked
                    else f"it implements none of {', '.join(HOOKS)}")
            loaded.package_problem(plugin_name, f"registers nothing: {hint}",
                                   f"plugin package {package!r} registers nothing: {hint}")


def _collect(pm: pluggy.PluginManager, loaded: _Loaded) -> tuple[list[PluginInfo], list[PluginInfo]]:
    """Call every hook; return the plugins and the skipped ones (each skip adds one warning)."""
    found: dict[tuple[str, str], PluginInfo] = {}
    skipped: list[PluginInfo] = []
    counts: dict[str, int] = {}
    for kind in KINDS:
        caller = getattr(pm.hook, f"ftcot_register_{kind}s")
        for impl in caller.get_hookimpls():
            package, version = loaded.owners.get(impl.plugin_name, (impl.plugin_name, "?"))
            counts.setdefault(impl.plugin_name, 0)

            def register(obj: type, _kind: str = kind, _pkg: str = package, _ver: str = version,
                         _plugin: str = impl.plugin_name) -> None:
                counts[_plugin] += 1
                cls = obj if isinstance(obj, type) else type(obj)
                problem = _check_class(_kind, obj)
                if problem is not None:
                    loaded.warnings.append(f"plugin package {_pkg!r}: {problem}; skipped")
                    name = getattr(cls, "name", None)
                    skipped.append(PluginInfo(_kind, name if isinstance(name, str) and name else cls.__name__,
                                              _pkg, _ver, cls, problem))
                    return
                key = (_kind, obj.name)  # type: ignore[attr-defined]
                mine = PluginInfo(_kind, obj.name, _pkg, _ver, obj)  # type: ignore[attr-defined]
                if key in found and _same_class(found[key].cls, obj):  # an installed class registered
                    found[key] = replace(found[key], cls=obj)  # again by a test: its newest definition
                    return
                if key in found:
                    # a name taken twice: the built-in (else the first) keeps it, the other is skipped
                    kept, dropped = found[key], mine
                    if _pkg == BUILTIN_PACKAGE and kept.package != BUILTIN_PACKAGE:
                        kept, dropped = mine, kept
                    problem = (f"{_kind} {obj.name!r} is also registered by {kept.package!r}; "  # type: ignore[attr-defined]
                               f"rename it (or limit loading with FTCOT_LOAD_PLUGINS)")
                    loaded.warnings.append(f"plugin package {dropped.package!r}: {problem}; skipped")
                    skipped.append(PluginInfo(_kind, dropped.name, dropped.package, dropped.version, dropped.cls, problem))
                    found[key] = kept
                    return
                found[key] = mine

            try:
                impl.function(register=register)
            except UserError:
                raise
            except Exception as exc:  # a broken hook must not stop the rest
                problem = f"its hook {impl.function.__name__} failed: {type(exc).__name__}: {exc}"
                loaded.package_problem(impl.plugin_name, problem, f"plugin package {package!r}: {problem}; skipped")
    _report_unmarked(loaded, counts)
    return list(found.values()), skipped


def make_plugin_manager() -> tuple[pluggy.PluginManager, _Loaded]:
    pm = pluggy.PluginManager("ftcot")
    pm.add_hookspecs(hookspecs)
    loaded = _load_plugins(pm)
    pm.check_pending()
    return pm, loaded


@functools.cache
def registry() -> Registry:
    """The process-wide registry; warnings for broken plugins go to stderr once."""
    pm, loaded = make_plugin_manager()
    plugins, skipped = _collect(pm, loaded)
    modules = {getattr(m, "__name__", "").split(".")[0]: loaded.owners[name][0]
               for name, m in loaded.modules.items()}
    modules.update({p.cls.__module__.split(".")[0]: p.package for p in plugins + skipped
                    if p.package != BUILTIN_PACKAGE})
    modules.pop(BUILTIN_PACKAGE, None)
    modules.pop("", None)
    reg = Registry(plugins, loaded.warnings, skipped, modules, loaded.packages)
    for line in loaded.warnings:
        print(f"warning: {line}", file=sys.stderr)
    return reg


def plugin_failure(exc: BaseException) -> str | None:
    """One line for an exception raised inside a third-party plugin's code, else None."""
    try:
        package = registry().blame(exc)
    except Exception as lookup:  # no registry to ask (building it may be what failed): no package to name
        log.debug("cannot tell which plugin raised %s: %s: %s", type(exc).__name__, type(lookup).__name__, lookup)
        return None
    if package is None:
        return None
    return f"plugin package {package!r} failed: {type(exc).__name__}: {exc}"


def failure_line(exc: BaseException) -> str:
    """One short line for an exception raised while using a plugin: a UserError's first line,
    else the failing package (where known), the exception's type and its message."""
    if isinstance(exc, UserError):
        lines = str(exc).strip().splitlines()
        return lines[0] if lines else "failed"
    line = plugin_failure(exc) or f"{type(exc).__name__}: {exc}"
    return " ".join(line.split())[:FAILURE_LINE_MAX]


def _create(kind: str, spec: str, **options: Any) -> object:
    """Instantiate the plugin named by ``spec``: ``cls.from_spec(argument, **options)``, checked to
    be an instance of the kind's base (a plugin's ``from_spec`` may return anything)."""
    cls, argument = registry().resolve(kind, spec)
    made = cls.from_spec(argument, **options)
    base = BASES[kind]
    if not isinstance(made, base):
        raise UserError(f"{kind} {split_spec(spec)[0]!r}: {cls.__name__}.from_spec returned "
                        f"{type(made).__name__}, not a {base.__name__}: return an instance of the class")
    return made


def create_task(spec: str, **options: Any) -> Task:
    """The task named by ``PLUGIN[:ARGUMENT]`` (options: ``data_dir``)."""
    return cast(Task, _create("task", spec, **options))


def create_teacher(spec: str, **options: Any) -> Teacher:
    """The teacher named by ``PLUGIN[:ARGUMENT]`` with its options."""
    return cast(Teacher, _create("teacher", spec, **options))


def create_student(spec: str, **options: Any) -> Student:
    """The student named by ``PLUGIN[:ARGUMENT]`` (options: ``threads``, ``device``)."""
    return cast(Student, _create("student", spec, **options))


def create_filter(spec: str, **options: Any) -> Filter:
    """The filter named by ``PLUGIN[:ARGUMENT]``."""
    return cast(Filter, _create("filter", spec, **options))


def create_reporter(spec: str, **options: Any) -> Reporter:
    """The leaderboard format named by ``PLUGIN[:ARGUMENT]``."""
    return cast(Reporter, _create("reporter", spec, **options))


def build_problem(kind: str, spec: str, **options: Any) -> str | None:
    """Why the plugin named by ``spec`` cannot be built, in one line; None when it can. Used to
    check a matrix or a baseline before anything runs."""
    try:
        _create(kind, spec, **options)
    except Exception as exc:  # a UserError, or a plugin's own bug
        return failure_line(exc)
    return None
