"""ftcot's public plugin API: the hook marker and every contract a plugin author subclasses or
receives. A plugin imports from here (and ``ftcot``) only; everything else may change.

A plugin module implements one or more of the hooks in ``ftcot.hookspecs`` with ``@hookimpl``
and is named in its package's ``ftcot`` entry-point group.
"""

from ftcot import hookimpl
from ftcot.claims import Claim
from ftcot.claims import check as check_claims
from ftcot.contracts.filter import Drop, Filter, FilterContext, FilterResult, FilterStep
from ftcot.contracts.reporter import Reporter
from ftcot.contracts.student import (
    META_FILE,
    EpochCallback,
    Student,
    StudentModel,
    TrainConfig,
)
from ftcot.contracts.task import DatasetTask, GeneratedTask, Task
from ftcot.contracts.teacher import ALL_COMPLETIONS, CORE_TEACHER_PARAMS, Generation, Job, Sink, Teacher
from ftcot.datafiles import RawFile
from ftcot.errors import UserError
from ftcot.hookspecs import Register
from ftcot.leaderboard import Entry, Leaderboard, Row
from ftcot.records import Completion, Example
from ftcot.secrets import Redactor, describe, one_line, public_address
from ftcot.specs import Param, flag, parse_params
from ftcot.store import content_key
from ftcot.tables import legend, number_column, short_names, table_text, text_column
from ftcot.validation import MAX_SEED

__all__ = [
    "ALL_COMPLETIONS",
    "CORE_TEACHER_PARAMS",
    "MAX_SEED",
    "META_FILE",
    "Claim",
    "Completion",
    "DatasetTask",
    "Drop",
    "Entry",
    "EpochCallback",
    "Example",
    "Filter",
    "FilterContext",
    "FilterResult",
    "FilterStep",
    "GeneratedTask",
    "Generation",
    "Job",
    "Leaderboard",
    "Param",
    "RawFile",
    "Redactor",
    "Register",
    "Reporter",
    "Row",
    "Sink",
    "Student",
    "StudentModel",
    "Task",
    "Teacher",
    "TrainConfig",
    "UserError",
    "check_claims",
    "content_key",
    "describe",
    "flag",
    "hookimpl",
    "legend",
    "number_column",
    "one_line",
    "parse_params",
    "public_address",
    "short_names",
    "table_text",
    "text_column",
]
