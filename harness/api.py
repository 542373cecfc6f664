"""ftcot's public plugin API: the hook marker and every contract a plugin author subclasses or
receives, and the helpers the built-in plugins use. A plugin imports from here (and ``ftcot``) only; everything else may change.

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
from ftcot.data_install import REASONING_TEACHER
from ftcot.datafiles import RawFile, examples_list, field, json_array, malformed, read_json, read_json_lines
from ftcot.errors import UserError
from ftcot.event_loop import run_coroutine
from ftcot.fileio import atomic_file, read_json_or_none, write_json_atomic
from ftcot.hookspecs import Register
from ftcot.leaderboard import METHOD_LABELS, Entry, Leaderboard, Row
from ftcot.limits import RateLimiter, Slots, shared_rate
from ftcot.litellm_client import load_litellm
from ftcot.records import BATCH_SUBMITTING, BatchRecord, Completion, Example
from ftcot.secrets import Redactor, describe, one_line, public_address
from ftcot.specs import Param, declared_params, flag, parse_lora, parse_params, split_assignments
from ftcot.store import content_key
from ftcot.tables import legend, number_column, short_names, table_text, text_column
from ftcot.validation import MAX_SEED, check_teacher_options

__all__ = [
    "ALL_COMPLETIONS",
    "BATCH_SUBMITTING",
    "CORE_TEACHER_PARAMS",
    "MAX_SEED",
    "META_FILE",
    "METHOD_LABELS",
    "REASONING_TEACHER",
    "BatchRecord",
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
    "RateLimiter",
    "RawFile",
    "Redactor",
    "Register",
    "Reporter",
    "Row",
    "Sink",
    "Slots",
    "Student",
    "StudentModel",
    "Task",
    "Teacher",
    "TrainConfig",
    "UserError",
    "atomic_file",
    "check_claims",
    "check_teacher_options",
    "content_key",
    "declared_params",
    "describe",
    "examples_list",
    "field",
    "flag",
    "hookimpl",
    "json_array",
    "legend",
    "load_litellm",
    "malformed",
    "number_column",
    "one_line",
    "parse_lora",
    "parse_params",
    "public_address",
    "read_json",
    "read_json_lines",
    "read_json_or_none",
    "run_coroutine",
    "shared_rate",
    "short_names",
    "split_assignments",
    "table_text",
    "text_column",
    "write_json_atomic",
]
