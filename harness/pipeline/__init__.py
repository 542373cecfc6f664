"""One matrix cell, stage by stage: teach → filter → train → evaluate → record.

- ``cell``: what names a cell (``CellSpec``, ``cell_key``) and the plain data between stages;
- ``teach``: the teacher's completions, through the store (nothing is asked twice);
- ``filter``: the cell's filters, in order, with every drop's provenance;
- ``student``: the student's text and training pairs (shared by filter and train);
- ``train``: the trained model's identity and directory;
- ``evaluate``: answers to the test questions, scored by the task's rules (``scorer``);
- ``record``: the cell, its predictions and model artifact in the store;
- ``run``: the three parts a distributed executor moves around (``prepare_cell`` on the driver,
  ``execute_cell`` anywhere, ``record_cell`` on the driver) and ``run_cell``, all three in a row.
"""

from ftcot.pipeline.cell import (
    REPORT_EPOCH_LABELS,
    REPORT_EPOCHS,
    Answer,
    CellInputs,
    CellOutputs,
    CellSpec,
    EvalItem,
    Sample,
    cell_key,
    public_spec,
    public_student,
    public_teacher_options,
    train_config,
)
from ftcot.pipeline.filter import filter_completions
from ftcot.pipeline.record import record_cell, record_failure
from ftcot.pipeline.run import (
    execute_cell,
    load_task,
    models_dir,
    prepare_cell,
    run_cell,
    split_validation,
)
from ftcot.pipeline.scorer import Scorer
from ftcot.pipeline.student import corpus_for, training_pairs
from ftcot.pipeline.teach import teach_examples

__all__ = [
    "REPORT_EPOCHS",
    "REPORT_EPOCH_LABELS",
    "Answer",
    "CellInputs",
    "CellOutputs",
    "CellSpec",
    "EvalItem",
    "Sample",
    "Scorer",
    "cell_key",
    "corpus_for",
    "execute_cell",
    "filter_completions",
    "load_task",
    "models_dir",
    "prepare_cell",
    "public_spec",
    "public_student",
    "public_teacher_options",
    "record_cell",
    "record_failure",
    "run_cell",
    "split_validation",
    "teach_examples",
    "train_config",
    "training_pairs",
]
