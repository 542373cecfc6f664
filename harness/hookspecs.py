"""The hooks a plugin implements. Each receives a ``register`` callback and calls it once per
plugin class it provides; nothing else is required of a plugin module.

A plugin class has a class attribute ``name`` (what users type before the colon in
``PLUGIN[:ARGUMENT]``) and an optional ``description``. What else it needs is set by its kind's
base class in ``ftcot.api``: ``Task`` (``DatasetTask`` or ``GeneratedTask``), ``Teacher``,
``Student``, ``Filter`` and ``Reporter``. The registry refuses a class that is not a subclass of
its kind's base.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from ftcot.contracts.filter import Filter
from ftcot.contracts.reporter import Reporter
from ftcot.contracts.student import Student
from ftcot.contracts.task import Task
from ftcot.contracts.teacher import Teacher

hookspec = pluggy.HookspecMarker("ftcot")

Register = Callable[[type], None]
"""The callback every hook receives: call it once per plugin class."""


@hookspec
def ftcot_register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register task classes (datasets or generators): ``register(MyTask)``."""


@hookspec
def ftcot_register_teachers(register: Callable[[type[Teacher]], None]) -> None:
    """Register teacher classes that write rationales: ``register(MyTeacher)``."""


@hookspec
def ftcot_register_students(register: Callable[[type[Student]], None]) -> None:
    """Register student classes that are fine-tuned and evaluated: ``register(MyStudent)``."""


@hookspec
def ftcot_register_filters(register: Callable[[type[Filter]], None]) -> None:
    """Register filter classes that keep or drop teacher completions: ``register(MyFilter)``."""


@hookspec
def ftcot_register_reporters(register: Callable[[type[Reporter]], None]) -> None:
    """Register reporter classes that render leaderboards (a ``--format``): ``register(MyReporter)``."""
