"""ftcot's built-in tasks: the 12 datasets of the Fine-tune-CoT paper, one short module per family
(``arithmetic``, ``multiple_choice``, ``coin_flip``, ``last_letters``, ``shuffled_objects``,
``strategy_qa``), registered in ``tasks.plugin``. ``ftcot.contracts.task`` holds the contract,
``tasks.catalog`` the data files with checksums and URLs, ``ftcot.scoring`` the answer rules.

A new dataset task subclasses ``ftcot.contracts.task.DatasetTask``: a ``name``, an ``answer_type``
(``number``, ``letter`` with its ``letters``, ``yes_no`` or ``text``), its ``files`` and a
``_parse`` that yields (question, answer, choices, rationale) per record. Scoring under both rule
sets comes with the answer type. A generator subclasses ``ftcot.contracts.task.GeneratedTask``.
"""
