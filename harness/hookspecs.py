"""The hooks a plugin implements. Each receives a ``register`` callback and calls it once per
plugin class it provides; nothing else is required of a plugin module.

A plugin class has a class attribute ``name`` (what users type before the colon in
``PLUGIN[:ARGUMENT]``) and an optional ``description``. What else it needs is set by its kind's
base class: ``tasks.base.Task``, ``teachers.base.Teacher``, ``students.base.Student``,
``plugins.filters.Filter`` and ``plugins.reporters.Reporter``.
"""

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("ftcot")

Register = Callable[[type], None]


@hookspec
def ftcot_register_tasks(register: Register) -> None:
    """Register task classes (datasets or generators): ``register(MyTask)``."""


@hookspec
def ftcot_register_teachers(register: Register) -> None:
    """Register teacher classes that write rationales: ``register(MyTeacher)``."""


@hookspec
def ftcot_register_students(register: Register) -> None:
    """Register student classes that are fine-tuned and evaluated: ``register(MyStudent)``."""


@hookspec
def ftcot_register_filters(register: Register) -> None:
    """Register filter classes that keep or drop teacher completions: ``register(MyFilter)``."""


@hookspec
def ftcot_register_reporters(register: Register) -> None:
    """Register reporter classes that render leaderboards (a ``--format``): ``register(MyReporter)``."""
