"""Registers ftcot's built-in students."""

from ftcot.api import hookimpl
from ftcot.students.hf import HFCausalStudent, HFSeq2SeqStudent, HFStudent
from ftcot.students.provider import ProviderStudent
from ftcot.students.tiny import TinyGPT2, TinyLlama, TinyT5


@hookimpl
def ftcot_register_students(register):
    """The built-in students: Hugging Face models, tiny models built from a config, provider fine-tuning."""
    for cls in (HFStudent, HFCausalStudent, HFSeq2SeqStudent, TinyGPT2, TinyLlama, TinyT5, ProviderStudent):
        register(cls)
