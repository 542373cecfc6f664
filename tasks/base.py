"""The task contract. A task plugin subclasses ``Task`` and registers the class.

CONTRACT (filled in by the tasks work; other packages rely on exactly these names):
- ``Task.from_spec(argument, *, data_dir, **_)`` -> instance; ``argument`` is what follows the
  colon in ``name[:argument]`` (e.g. ``flips=4,train=350`` for a generated task).
- ``task.key``: canonical spec string, identical for equal tasks (used in store keys).
- ``task.answer_type``: ``number`` | ``letter`` | ``yes_no`` | ``text``.
- ``task.examples()`` -> list[Example] ordered by sample_index.
- ``task.split_indices(split="default")`` -> {"train": [...], "test": [...]}.
- ``task.train_examples(split="default")`` / ``task.test_examples(split="default")``.
- ``task.extract(text, mode, scoring)`` -> str | None, mode in direct|cot|fs-cot|ft-cot.
- ``task.is_correct(prediction, gold, scoring)`` -> bool.
- ``task.few_shot_prompt()`` -> str (exemplars, ends ready for the next ``Q:``), UserError if none.
- ``task.oracle_rationales(example)`` -> list[str]: step-by-step rationales computed from the
  question, first one canonical, others alternative phrasings; UserError where unsupported.
- ``task.fingerprint()`` -> str: hash of the data that determines the examples.
"""
