"""ftcot's built-in tasks: the 12 datasets of the Fine-tune-CoT paper, one short module per family
(``arithmetic``, ``multiple_choice``, ``coin_flip``, ``last_letters``, ``shuffled_objects``,
``strategy_qa``), registered in ``tasks.plugin``. ``tasks.base`` holds the contract,
``tasks.catalog`` the data files with checksums and URLs, ``harness.scoring`` the answer rules.

A new dataset task subclasses ``tasks.base.DatasetTask``: a ``name``, an ``answer_type``
(``number``, ``letter`` with its ``letters``, ``yes_no`` or ``text``), its ``files`` and a
``_parse`` that yields (question, answer, choices, rationale) per record. Scoring under both rule
sets comes with the answer type. A generator subclasses ``tasks.base.GeneratedTask``.
"""
