"""Registers ftcot's built-in tasks: the 12 datasets of the Fine-tune-CoT paper. Coin flip, last
letters and shuffled objects also have generated variants (``name:param=value,...``)."""

from harness import hookimpl
from tasks.coin_flip import CoinFlip
from tasks.last_letters import LastLetters
from tasks.shuffled_objects import ShuffledObjects

BUILTIN_TASKS = (CoinFlip, LastLetters, ShuffledObjects)


@hookimpl
def ftcot_register_tasks(register):
    """The built-in tasks."""
    for task in BUILTIN_TASKS:
        register(task)
