"""Registers ftcot's built-in teachers."""

from harness import hookimpl
from teachers.hf_teacher import HFTeacher
from teachers.litellm_teacher import LiteLLMTeacher
from teachers.oracle import OracleTeacher
from teachers.replay import ReplayTeacher
from teachers.vllm_teacher import VLLMTeacher

BUILTIN_TEACHERS = (LiteLLMTeacher, VLLMTeacher, HFTeacher, ReplayTeacher, OracleTeacher)


@hookimpl
def ftcot_register_teachers(register):
    """The built-in teachers."""
    for teacher in BUILTIN_TEACHERS:
        register(teacher)
