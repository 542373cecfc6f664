"""Registers ftcot's built-in students."""

from ftcot.api import hookimpl
from ftcot.students.hf import HFCausalStudent, HFSeq2SeqStudent, HFStudent
from ftcot.students.tiny import TinyGPT2, TinyLlama, TinyT5


@hookimpl
def ftcot_register_students(register):
    """The built-in students: Hugging Face models and tiny models built from a config."""
    for cls in (HFStudent, HFCausalStudent, HFSeq2SeqStudent, TinyGPT2, TinyLlama, TinyT5):
        register(cls)
