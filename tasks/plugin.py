"""Registers ftcot's built-in tasks: the 12 datasets of the Fine-tune-CoT paper. Coin flip, last
letters and shuffled objects also have generated variants (``name:param=value,...``)."""

from ftcot.api import hookimpl
from ftcot.tasks.arithmetic import AddSub, Gsm8k, MultiArith, SingleEq, Svamp
from ftcot.tasks.coin_flip import CoinFlip
from ftcot.tasks.last_letters import LastLetters
from ftcot.tasks.multiple_choice import Aqua, CommonsenseQa, DateUnderstanding
from ftcot.tasks.shuffled_objects import ShuffledObjects
from ftcot.tasks.strategy_qa import StrategyQa

# In the paper's order.
BUILTIN_TASKS = (
    SingleEq, AddSub, MultiArith, Gsm8k, Aqua, Svamp,
    DateUnderstanding, ShuffledObjects, LastLetters, CoinFlip,
    CommonsenseQa, StrategyQa,
)


@hookimpl
def ftcot_register_tasks(register):
    """The built-in tasks."""
    for task in BUILTIN_TASKS:
        register(task)
