"""Registers ftcot's built-in teachers."""

from harness import hookimpl
from teachers.litellm_teacher import LiteLLMTeacher


@hookimpl
def ftcot_register_teachers(register):
    """The built-in teachers."""
    for teacher in (LiteLLMTeacher,):
        register(teacher)
