"""Registers ftcot's built-in teachers."""

from ftcot.api import hookimpl
from ftcot.teachers.hf_teacher import HFTeacher
from ftcot.teachers.litellm_teacher import LiteLLMTeacher
from ftcot.teachers.oracle import OracleTeacher
from ftcot.teachers.replay import ReplayTeacher
from ftcot.teachers.vllm_teacher import VLLMTeacher

BUILTIN_TEACHERS = (LiteLLMTeacher, VLLMTeacher, HFTeacher, ReplayTeacher, OracleTeacher)


@hookimpl
def ftcot_register_teachers(register):
    """The built-in teachers."""
    for teacher in BUILTIN_TEACHERS:
        register(teacher)
