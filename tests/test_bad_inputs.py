"""Bad input never costs a result: every case below runs the command line in-process on a copy of
a small store and checks the exit status, exactly one ``error:`` line, no traceback, and that the
store still holds the same rows and passes ``PRAGMA integrity_check``.

Files a case needs are written into its folder first; ``{dir}`` in an argument is that folder.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ftcot.cli import main
from ftcot.commands.demo import demo_config_text
from ftcot.errors import EXIT_ERROR, EXIT_NOTHING_DONE, EXIT_USAGE, UserError
from ftcot.pipeline import CellSpec, cell_key
from ftcot.records import CellResult
from ftcot.store import Store

TASK = "coin_flip:flips=2,train=8,test=4,seed=0"
STUDENT = "tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300"
STORE = "runs/ftcot.db"
DEAD = "http://127.0.0.1:9"  # nothing listens there: every request fails at once


@dataclass
class Case:
    """One bad input: the arguments, the expected status and a piece of the error line."""

    id: str
    argv: list[str]
    status: int = EXIT_ERROR
    says: str = ""
    files: dict[str, str | bytes] = field(default_factory=dict)
    stdin: str | bytes | None = None
    adds: str = ""  # tables the command may add rows to, comma-separated (failed completions and cells are kept)
    env: dict[str, str] = field(default_factory=dict)
    sql: str = ""  # run on the store copy first (a damaged row)


def teach(*extra: str, task: str = TASK) -> list[str]:
    return ["teach", task, "--teacher", "oracle", "--no-progress", *extra]


def distill(*extra: str, task: str = TASK, student: str = STUDENT) -> list[str]:
    return ["distill", task, "--teacher", "oracle", "--student", student, "--max-steps", "2", *extra]


def api_student(*options: str) -> str:
    """The API-fine-tuned student at an address where nothing listens (no request may succeed)."""
    return ",".join([f"openai:babbage-002,api_base={DEAD},train_cost_per_token=1e-6", *options])


EXPORTED = CellSpec(task=TASK, teacher="none", student=STUDENT, method="zero-shot")  # the seeded store's exportable cell


def exported_folder() -> str:
    """The folder ``ftcot export`` writes the exportable cell into."""
    from ftcot.export import cell_name

    result = CellResult(task=TASK, teacher="none", student=STUDENT, method="zero-shot", extra={"spec": EXPORTED.to_dict()})
    return cell_name(result, cell_key(EXPORTED, "paper"))


def toml(body: str) -> dict[str, str]:
    return {"m.toml": body}


GOOD_TOML = f'tasks = ["{TASK}"]\nstudents = ["{STUDENT}"]\nteachers = ["oracle"]\nmethods = ["fine-tune-cot"]\n'


def baseline(**changes) -> dict[str, str]:
    cell = {"spec": {"task": TASK, "teacher": "oracle", "student": STUDENT, "method": "fine-tune-cot"},
            "accuracy": 0.5, "n": 4}
    cell.update(changes.pop("cell", {}))
    data = {"ftcot_baseline": 1, "scoring": "paper", "versions": {}, "data": {}, "cells": [cell]}
    data.update(changes)
    return {"b.json": json.dumps(data)}


def cell(**spec) -> dict:
    """A baseline cell of the good spec with ``spec`` changed."""
    return {"spec": {"task": TASK, "teacher": "oracle", "student": STUDENT, "method": "fine-tune-cot", **spec},
            "accuracy": 0.5, "n": 4}


def score(stdin: str | bytes, task: str = TASK) -> dict:
    return {"argv": ["score", task, "--mode", "direct"], "stdin": stdin}


CASES = [
    # -- from the issue: outputs over the store ---------------------------------------------------
    Case("leaderboard-csv-over-store", ["leaderboard", "--format", "csv", "--output", STORE], says="store"),
    Case("teach-export-over-store", teach("--export", STORE), says="store"),
    # -- from the issue: zero and negative options ------------------------------------------------
    Case("max-tries-0", teach("--max-tries", "0"), says="max_tries"),
    Case("concurrency-0", teach("--concurrency", "0"), says="concurrency"),
    Case("timeout-0", teach("--timeout", "0"), says="timeout"),
    Case("max-cost-negative", teach("--max-cost", "-5"), says="max_cost"),
    # -- from the issue: settings checked before any teacher call ---------------------------------
    Case("lr-nan", distill("--lr", "nan"), says="lr"),
    Case("lr-negative", distill("--lr", "-1"), says="lr"),
    Case("lr-inf", distill("--lr", "inf"), says="lr"),
    Case("batch-size-0", distill("--batch-size", "0"), says="batch_size"),
    Case("matrix-max-steps-string", ["matrix", "plan", "m.toml"], says="max_steps",
         files=toml(GOOD_TOML + '[training]\nmax_steps = "five"\n')),
    Case("matrix-batch-size-negative", ["matrix", "plan", "m.toml"], says="batch_size",
         files=toml(GOOD_TOML + "[training]\nbatch_size = -4\n")),
    Case("matrix-task-bad-parameter", ["matrix", "plan", "m.toml"], says="flipz",
         files=toml(GOOD_TOML.replace(TASK, "coin_flip:flipz=3"))),
    Case("matrix-student-negative-layers", ["matrix", "plan", "m.toml"], says="layers",
         files=toml(GOOD_TOML.replace(STUDENT, "tiny-llama:layers=-1"))),
    # -- from the issue: tracebacks -----------------------------------------------------------------
    Case("matrix-binary", ["matrix", "plan", "m.toml"], says="UTF-8", files={"m.toml": b"\x00\xff\xfe\x89PNG"}),
    Case("matrix-latin1", ["matrix", "plan", "m.toml"], says="UTF-8",
         files={"m.toml": 'tasks = ["caf\xe9"]\n'.encode("latin-1")}),
    Case("leaderboard-output-dir", ["leaderboard", "--output", "{dir}"], says="directory"),
    Case("generator-10-to-11", teach(task="coin_flip:train=100000000000"), says="at most"),
    Case("score-5000-digits", **score('{"sample_index": ' + "9" * 5000 + ', "text": "yes"}\n'), says="line 1"),
    Case("data-import-into-file", ["--data-dir", "datafile", "data", "import", "{dir}"], says="is a file",
         files={"datafile": "not a folder"}),
    # -- from the issue: nothing useful happened ----------------------------------------------------
    Case("teach-connection-refused", ["teach", TASK, "--teacher", "litellm:openai/m", "--api-base", DEAD,
                                      "--max-tries", "1", "--no-progress"],
         says="cannot reach the teacher at http://127.0.0.1:9 (Connection refused): start the server there",
         adds="artifacts"),
    Case("teach-train-0", teach(task="coin_flip:flips=2,train=0,test=4"), status=EXIT_NOTHING_DONE,
         says="no train examples"),
    Case("matrix-no-cells", ["matrix", "plan", "m.toml"], says="no cells",
         files=toml(GOOD_TOML.replace(f'tasks = ["{TASK}"]', "tasks = []"))),
    # -- teach options ------------------------------------------------------------------------------
    Case("max-tries-negative", teach("--max-tries", "-1"), says="max_tries"),
    Case("concurrency-negative", teach("--concurrency", "-3"), says="concurrency"),
    Case("timeout-negative", teach("--timeout", "-1"), says="timeout"),
    Case("timeout-nan", teach("--timeout", "nan"), says="timeout"),
    Case("timeout-inf", teach("--timeout", "inf"), says="timeout"),
    Case("max-cost-nan", teach("--max-cost", "nan"), says="max_cost"),
    Case("backoff-negative", teach("--backoff", "-1"), says="backoff"),
    Case("backoff-nan", teach("--backoff", "nan"), says="backoff"),
    Case("temperature-negative", teach("-T", "-0.5"), says="temperature"),
    Case("temperature-nan", teach("-T", "nan"), says="temperature"),
    Case("temperature-inf", teach("-T", "inf"), says="temperature"),
    Case("degree-0", teach("-D", "0"), says="degree"),
    Case("degree-negative", teach("-D", "-2"), says="degree"),
    Case("limit-negative", teach("--limit", "-1"), says="--limit"),
    Case("limit-0", teach("--limit", "0"), status=EXIT_NOTHING_DONE, says="--limit 0"),
    Case("option-max-tokens-0", teach("-o", "max_tokens=0"), says="max_tokens"),
    Case("option-answer-max-tokens-negative", teach("-o", "answer_max_tokens=-1"), says="answer_max_tokens"),
    Case("option-max-tokens-string", teach("-o", "max_tokens=many"), says="max_tokens"),
    Case("option-unknown-template", teach("-o", 'templates={"foo": "x"}'), says="templates"),
    Case("option-template-without-question", teach("-o", 'templates={"reasoning": "no field"}'),
         says="{question}"),
    Case("option-endpoint", teach("-o", "endpoint=fax"), says="endpoint"),
    Case("option-max-wait-0", teach("-o", "max_wait=0"), says="max_wait"),
    Case("option-price-negative", teach("-o", "input_cost_per_token=-1"), says="input_cost_per_token"),
    Case("option-concurrency-string", teach("-o", 'concurrency="4"'), says="concurrency"),
    Case("option-concurrency-bool", teach("-o", "concurrency=true"), says="concurrency"),
    Case("option-without-value", teach("-o", "novalue"), says="NAME=VALUE"),
    Case("option-unknown", teach("-o", "colour=red"), says="unknown option(s) colour"),
    Case("option-oracle-error", teach("-o", "error=0.2"), says="write oracle:error=P"),
    Case("option-unknown-litellm", ["teach", TASK, "--teacher", "litellm:openai/m", "--api-base", DEAD, "-o", "temprature=1"],
         says="unknown option(s) temprature"),
    Case("option-empty-name", teach("-o", "=3"), says="NAME=VALUE"),
    Case("option-api-base-empty", teach("--api-base", ""), says="api_base"),
    Case("batch-with-oracle", teach("--batch"), says="does not run batch jobs"),
    Case("wait-without-batch", teach("--wait"), says="add --batch"),
    Case("batch-poll-0", teach("--batch", "--poll", "0"), says="batch_poll"),
    Case("batch-provider-without-batches", ["teach", TASK, "--teacher", "litellm:hosted_vllm/m", "--api-base", DEAD,
                                            "--batch", "--no-progress"], says="OpenAI-protocol"),
    Case("max-tries-word", teach("--max-tries", "many"), status=EXIT_USAGE, says="--max-tries"),
    Case("match-unknown", ["teach", TASK, "--teacher", "replay:x.json", "--match", "fuzzy"],
         says="match must be one of index, question, got 'fuzzy'"),
    Case("split-unknown", teach("--split", "dev"), status=EXIT_USAGE, says="--split"),
    Case("teach-without-teacher", ["teach", TASK], status=EXIT_USAGE, says="--teacher"),
    Case("teach-nothing", ["teach"], status=EXIT_USAGE, says="TASK"),
    Case("export-dir", teach("--export", "{dir}"), says="directory"),
    Case("export-foreign-file", teach("--export", "notes.json"), says="did not write",
         files={"notes.json": '{"mine": true}'}),
    Case("export-sqlite", teach("--export", "other.db"), says="SQLite",
         files={"other.db": b"SQLite format 3\x00" + b"\x00" * 200}),
    Case("export-under-file", teach("--export", "notes.json/x.json"), says="is a file",
         files={"notes.json": "{}"}),
    Case("export-store-wal", teach("--export", STORE + "-wal"), says="store"),
    # -- teacher specs ----------------------------------------------------------------------------
    Case("teacher-unknown", ["teach", TASK, "--teacher", "wizard"], says="unknown teacher"),
    Case("teacher-litellm-without-model", ["teach", TASK, "--teacher", "litellm"], says="needs a model"),
    Case("teacher-empty-name", ["teach", TASK, "--teacher", ":x"], says="empty plugin name"),
    Case("teacher-hf-without-model", ["teach", TASK, "--teacher", "hf"], says="needs a model"),
    # -- task specs -------------------------------------------------------------------------------
    Case("task-unknown", teach(task="no_such_task"), says="unknown task"),
    Case("task-bad-parameter", teach(task="coin_flip:flipz=3"), says="flipz"),
    Case("task-flips-0", teach(task="coin_flip:flips=0"), says="flips"),
    Case("task-flips-word", teach(task="coin_flip:flips=two"), says="integer"),
    Case("task-train-negative", teach(task="coin_flip:train=-1"), says="train"),
    Case("task-test-negative", teach(task="coin_flip:test=-4"), says="test"),
    Case("task-no-equals", teach(task="coin_flip:flips"), says="NAME=VALUE"),
    Case("task-parameter-twice", teach(task="coin_flip:flips=2,flips=3,train=8,test=4"), says="given twice"),
    Case("student-parameter-twice", distill(student="tiny-gpt2:layers=1,layers=2"), says="given twice"),
    Case("openai-option-twice", distill("--epochs", "1", student=api_student("poll=1", "poll=2")), says="given twice"),
    Case("task-preset-unknown", teach(task="tracking_shuffled_objects:preset=nope"), says="preset"),
    Case("task-objects-1", teach(task="tracking_shuffled_objects:objects=1"), says="objects"),
    Case("task-swaps-0", teach(task="tracking_shuffled_objects:swaps=0"), says="swaps"),
    Case("task-words-0", teach(task="last_letter_concatenation:words=0"), says="words"),
    Case("task-empty-name", teach(task=":flips=2"), says="empty plugin name"),
    Case("task-dataset-argument", ["data", "show", "gsm8k:x", "0"], says="gsm8k"),
    # -- distill settings -------------------------------------------------------------------------
    Case("lr-0", distill("--lr", "0"), says="lr"),
    Case("batch-size-negative", distill("--batch-size", "-1"), says="batch_size"),
    Case("epochs-0", distill("--epochs", "0"), says="epochs"),
    Case("max-steps-0", distill("--max-steps", "0"), says="max_steps"),
    Case("max-steps-negative", distill("--max-steps", "-5"), says="max_steps"),
    Case("max-length-0", distill("--max-length", "0"), says="max_length"),
    Case("max-new-tokens-0", distill("--max-new-tokens", "0"), says="max_new_tokens"),
    Case("lora-r-0", distill("--lora", "r=0"), says="lora"),
    Case("lora-r-word", distill("--lora", "r=big"), says="lora"),
    Case("lora-alpha-negative", distill("--lora", "alpha=-1"), says="alpha"),
    Case("lora-dropout-1", distill("--lora", "dropout=1"), says="dropout"),
    Case("lora-unknown", distill("--lora", "rank=4"), says="lora"),
    Case("distill-degree-0", distill("-D", "0"), says="degree"),
    Case("distill-temperature-negative", distill("-T", "-1"), says="temperature"),
    Case("distill-filter-unknown", distill("--filters", "nosuch"), says="unknown filter"),
    Case("distill-filters-empty", distill("--filters", ""), says="--filters none"),
    Case("filter-report-filters-empty", ["filter-report", TASK, "--teacher", "oracle", "--filters", " , "],
         says="--filters none"),
    Case("distill-student-unknown", distill(student="nosuch"), says="unknown student"),
    Case("distill-student-layers-0", distill(student="tiny-gpt2:layers=0"), says="layers"),
    Case("distill-student-heads", distill(student="tiny-gpt2:dim=30,heads=4"), says="multiple"),
    Case("distill-student-dropout", distill(student="tiny-gpt2:dropout=2"), says="dropout"),
    Case("distill-student-dropout-nan", distill(student="tiny-gpt2:dropout=nan"), says="dropout"),
    Case("distill-student-option", distill(student="tiny-gpt2:colour=1"), says="colour"),
    Case("distill-student-missing-dir", distill(student="hf:./no/such/model"), says="no model directory"),
    Case("distill-student-hf-bare", distill(student="hf"), says="needs a model"),
    # -- input a user can give that was an internal error (exit 70) -------------------------------
    Case("seed-2-to-70", distill("--seed", str(2**70)), says="seed"),
    Case("seed-negative", distill("--seed", "-1"), says="seed"),
    Case("matrix-seed-negative", ["matrix", "plan", "m.toml"], says="seeds", files=toml(GOOD_TOML + "seeds = [-1]\n")),
    Case("matrix-seed-2-to-40", ["matrix", "plan", "m.toml"], says="seeds", files=toml(GOOD_TOML + f"seeds = [{2**40}]\n")),
    Case("threads-word", distill(), env={"FTCOT_THREADS": "abc"}, says="FTCOT_THREADS"),
    Case("replay-infinity", ["teach", TASK, "--teacher", "replay:r.jsonl", "--no-progress"], says="finite",
         files={"r.jsonl": '{"sample_index": 0, "rationale": "x", "answer_text": "yes", "cost_usd": Infinity}\n'}),
    Case("replay-nan", ["teach", TASK, "--teacher", "replay:r.jsonl", "--no-progress"], says="finite",
         files={"r.jsonl": '{"sample_index": 0, "rationale": "x", "prompt_tokens": NaN}\n'}),
    Case("replay-index-infinity", ["teach", TASK, "--teacher", "replay:r.jsonl", "--no-progress"], says="finite",
         files={"r.jsonl": '{"sample_index": Infinity, "rationale": "x"}\n'}),
    Case("replay-index-1e400", ["teach", TASK, "--teacher", "replay:r.json", "--no-progress"], says="finite",
         files={"r.json": '{"data": {"0": [{"rationale": "x", "cost_usd": 1e400}]}}'}),
    Case("replay-index-5000-digits", ["teach", TASK, "--teacher", "replay:r.jsonl", "--no-progress"], says="line 1",
         files={"r.jsonl": '{"sample_index": ' + "9" * 5000 + ', "rationale": "x"}\n'}),
    Case("store-corrupt-row", ["leaderboard"], says="damaged row", sql="UPDATE cells SET data = '{oops'"),
    Case("store-corrupt-prediction", ["export", "--output", "out"], says="damaged row",
         sql="UPDATE predictions SET data = '[1]'"),
    Case("openai-unreachable", ["distill", TASK, "--method", "fine-tune", "--student", api_student(), "--epochs", "1"],
         says="uploading the training file failed"),
    # -- the API-fine-tuned student: nothing is paid for a setting that cannot work ---------------
    Case("openai-max-steps", distill(student=api_student()), says="counts epochs"),
    Case("openai-max-cost-nan", distill("--epochs", "1", student=api_student("max_cost=nan")), says="max_cost"),
    Case("openai-max-cost-negative", distill("--epochs", "1", student=api_student("max_cost=-1")), says="max_cost"),
    Case("openai-poll-negative", distill("--epochs", "1", student=api_student("poll=-1")), says="poll"),
    Case("openai-poll-0", distill("--epochs", "1", student=api_student("poll=0")), says="poll"),
    Case("openai-poll-inf", distill("--epochs", "1", student=api_student("poll=inf")), says="poll"),
    Case("openai-concurrency-0", distill("--epochs", "1", student=api_student("concurrency=0")), says="concurrency"),
    Case("openai-price-nan", distill("--epochs", "1", student=api_student("input_cost_per_token=nan")),
         says="input_cost_per_token"),
    Case("openai-chat-maybe", distill("--epochs", "1", student=api_student("chat=maybe")), says="chat"),
    Case("openai-api-base-not-url", distill("--epochs", "1", student="openai:babbage-002,api_base=localhost"),
         says="http(s)://HOST"),
    Case("openai-lora", distill("--epochs", "1", "--lora", "r=4", student=api_student()), says="lora"),
    Case("matrix-openai-max-steps", ["matrix", "plan", "m.toml"], says="counts epochs",
         files=toml(GOOD_TOML.replace(STUDENT, api_student()) + "[training]\nmax_steps = 5\n")),
    Case("distill-without-teacher", ["distill", TASK, "--student", STUDENT], says="needs a teacher"),
    Case("distill-split-unknown", distill("--split", "dev"), says="split"),
    Case("distill-teacher-unknown", ["distill", TASK, "--teacher", "wizard", "--student", STUDENT],
         says="unknown teacher"),
    Case("distill-task-unknown", distill(task="nosuch"), says="unknown task"),
    Case("distill-train-0", distill(task="coin_flip:flips=2,train=0,test=4"), says="no training examples"),
    Case("distill-method-unknown", distill("--method", "magic"), status=EXIT_USAGE, says="--method"),
    Case("distill-report-epoch", distill("--report-epoch", "first"), status=EXIT_USAGE, says="--report-epoch"),
    Case("distill-lr-word", distill("--lr", "fast"), status=EXIT_USAGE, says="--lr"),
    # -- matrix TOML ------------------------------------------------------------------------------
    Case("matrix-missing", ["matrix", "plan", "nope.toml"], says="cannot read"),
    Case("matrix-dir", ["matrix", "plan", "{dir}"], says="cannot read"),
    Case("matrix-not-toml", ["matrix", "plan", "m.toml"], says="not valid TOML", files=toml("tasks = [\n")),
    Case("matrix-empty-file", ["matrix", "plan", "m.toml"], says="missing key", files=toml("")),
    Case("matrix-unknown-key", ["matrix", "plan", "m.toml"], says="unknown key", files=toml(GOOD_TOML + "colour = 1\n")),
    Case("matrix-methods-empty", ["matrix", "plan", "m.toml"], says="methods is empty",
         files=toml(GOOD_TOML.replace('["fine-tune-cot"]', "[]"))),
    Case("matrix-students-empty", ["matrix", "plan", "m.toml"], says="students is empty",
         files=toml(GOOD_TOML.replace(f'["{STUDENT}"]', "[]"))),
    Case("matrix-seeds-empty", ["matrix", "plan", "m.toml"], says="seeds is empty", files=toml(GOOD_TOML + "seeds = []\n")),
    Case("matrix-lr-nan", ["matrix", "plan", "m.toml"], says="lr", files=toml(GOOD_TOML + "[training]\nlr = nan\n")),
    Case("matrix-lr-inf", ["matrix", "plan", "m.toml"], says="lr", files=toml(GOOD_TOML + "[training]\nlr = inf\n")),
    Case("matrix-lr-negative", ["matrix", "plan", "m.toml"], says="lr", files=toml(GOOD_TOML + "[training]\nlr = -1.0\n")),
    Case("matrix-epochs-bool", ["matrix", "plan", "m.toml"], says="epochs", files=toml(GOOD_TOML + "[training]\nepochs = true\n")),
    Case("matrix-lora-bad", ["matrix", "plan", "m.toml"], says="lora", files=toml(GOOD_TOML + '[training]\nlora = "r=0"\n')),
    Case("matrix-training-unknown", ["matrix", "plan", "m.toml"], says="unknown training setting",
         files=toml(GOOD_TOML + "[training]\nlearning_rate = 0.1\n")),
    Case("matrix-training-not-table", ["matrix", "plan", "m.toml"], says="training must be a table",
         files=toml(GOOD_TOML + "training = 3\n")),
    Case("matrix-teacher-concurrency-0", ["matrix", "plan", "m.toml"], says="concurrency",
         files=toml(GOOD_TOML + "[teacher]\nconcurrency = 0\n")),
    Case("matrix-teacher-timeout-negative", ["matrix", "plan", "m.toml"], says="timeout",
         files=toml(GOOD_TOML + "[teacher]\ntimeout = -1\n")),
    Case("matrix-teacher-max-cost-negative", ["matrix", "plan", "m.toml"], says="max_cost",
         files=toml(GOOD_TOML + "[teacher]\nmax_cost = -5\n")),
    Case("matrix-teacher-unknown", ["matrix", "plan", "m.toml"], says="unknown teacher",
         files=toml(GOOD_TOML.replace('["oracle"]', '["wizard"]'))),
    Case("matrix-teacher-override-bad", ["matrix", "plan", "m.toml"], says="max_tries",
         files=toml(GOOD_TOML.replace('teachers = ["oracle"]\n', "") + '[teachers."oracle"]\nmax_tries = 0\n')),
    Case("matrix-litellm-without-model", ["matrix", "plan", "m.toml"], says="needs a model",
         files=toml(GOOD_TOML.replace('["oracle"]', '["litellm"]'))),
    Case("matrix-filter-unknown", ["matrix", "plan", "m.toml"], says="unknown filter",
         files=toml(GOOD_TOML + 'filters = ["nosuch"]\n')),
    Case("matrix-degrees-0", ["matrix", "plan", "m.toml"], says="degrees", files=toml(GOOD_TOML + "degrees = [0]\n")),
    Case("matrix-seeds-string", ["matrix", "plan", "m.toml"], says="seeds", files=toml(GOOD_TOML + 'seeds = "zero"\n')),
    Case("matrix-parallel-0", ["matrix", "plan", "m.toml"], says="parallel", files=toml(GOOD_TOML + "parallel = 0\n")),
    Case("matrix-scoring", ["matrix", "plan", "m.toml"], says="scoring", files=toml(GOOD_TOML + 'scoring = "lenient"\n')),
    Case("matrix-report-epoch", ["matrix", "plan", "m.toml"], says="report_epoch",
         files=toml(GOOD_TOML + 'report_epoch = "first"\n')),
    Case("matrix-store-number", ["matrix", "plan", "m.toml"], says="store", files=toml(GOOD_TOML + "store = 5\n")),
    Case("matrix-task-degrees-0", ["matrix", "plan", "m.toml"], says="degrees",
         files=toml(GOOD_TOML.replace(f'tasks = ["{TASK}"]\n', "") + f'[tasks."{TASK}"]\ndegrees = [0]\n')),
    Case("matrix-student-gpus-negative", ["matrix", "plan", "m.toml"], says="num_gpus",
         files=toml(GOOD_TOML.replace(f'students = ["{STUDENT}"]\n', "") + f'[students."{STUDENT}"]\nnum_gpus = -1\n')),
    Case("matrix-student-training-bad", ["matrix", "plan", "m.toml"], says="batch_size",
         files=toml(GOOD_TOML.replace(f'students = ["{STUDENT}"]\n', "")
                    + f'[students."{STUDENT}"]\ntraining = {{ batch_size = 0 }}\n')),
    Case("matrix-cot-without-teachers", ["matrix", "plan", "m.toml"], says="needs `teachers`",
         files=toml(GOOD_TOML.replace('teachers = ["oracle"]\n', ""))),
    Case("matrix-run-bad", ["matrix", "run", "m.toml"], says="batch_size",
         files=toml(GOOD_TOML + "[training]\nbatch_size = 0\n")),
    Case("matrix-run-address-without-ray", ["matrix", "run", "m.toml", "--address", "x"], says="--executor ray",
         files=toml(GOOD_TOML)),
    Case("matrix-only-unknown-field", ["matrix", "plan", "m.toml", "--only", "colour=red"], says="FIELD",
         files=toml(GOOD_TOML)),
    Case("matrix-only-selects-nothing", ["matrix", "plan", "m.toml", "--only", "task=nosuch"], says="selects no cell",
         files=toml(GOOD_TOML)),
    Case("leaderboard-bad-config", ["leaderboard", "m.toml"], says="flipz",
         files=toml(GOOD_TOML.replace(TASK, "coin_flip:flipz=3"))),
    # -- score input ------------------------------------------------------------------------------
    Case("score-not-json", **score("yes\n"), says="line 1"),
    Case("score-array", **score("[1, 2]\n"), says="line 1"),
    Case("score-missing-text", **score('{"sample_index": 0}\n'), says="line 1"),
    Case("score-index-string", **score('{"sample_index": "0", "text": "yes"}\n'), says="line 1"),
    Case("score-index-bool", **score('{"sample_index": true, "text": "yes"}\n'), says="line 1"),
    Case("score-index-float", **score('{"sample_index": 0.5, "text": "yes"}\n'), says="line 1"),
    Case("score-text-null", **score('{"sample_index": 0, "text": null}\n'), says="line 1"),
    Case("score-second-line", **score('{"sample_index": 0, "text": "yes"}\n{oops\n'), says="line 2"),
    Case("score-deep-nesting", **score("[" * 100000 + "\n"), says="line 1"),
    Case("score-index-unknown", **score('{"sample_index": 999, "text": "yes"}\n'), says="999"),
    Case("score-binary", **score(b"\xff\xfe\x00garbage\n"), says="UTF-8"),
    Case("score-lone-surrogate", **score('{"sample_index": 0, "text": "\\ud800 yes"}\n'), says="lone surrogate"),
    Case("score-empty", **score(""), status=EXIT_NOTHING_DONE, says="no model outputs"),
    Case("score-blank-lines", **score("\n\n  \n"), status=EXIT_NOTHING_DONE, says="no model outputs"),
    Case("score-task-unknown", ["score", "nosuch", "--mode", "direct"], says="unknown task", stdin=""),
    Case("score-mode-unknown", ["score", TASK, "--mode", "guess"], status=EXIT_USAGE, says="--mode", stdin=""),
    # -- baselines ---------------------------------------------------------------------------------
    Case("baseline-no-cells", ["check", "b.json"], says="cells", files=baseline(cells=[])),
    Case("baseline-accuracy-nan", ["check", "b.json"], says="accuracy", files=baseline(cell={"accuracy": float("nan")})),
    Case("baseline-accuracy-1.5", ["check", "b.json"], says="accuracy", files=baseline(cell={"accuracy": 1.5})),
    Case("baseline-accuracy-negative", ["check", "b.json"], says="accuracy", files=baseline(cell={"accuracy": -0.5})),
    Case("baseline-accuracy-string", ["check", "b.json"], says="accuracy", files=baseline(cell={"accuracy": "0.5"})),
    Case("baseline-n-negative", ["check", "b.json"], says="n must be", files=baseline(cell={"n": -8})),
    Case("baseline-n-0", ["check", "b.json"], says="n must be", files=baseline(cell={"n": 0})),
    Case("baseline-n-float", ["check", "b.json"], says="n must be", files=baseline(cell={"n": 4.5})),
    Case("baseline-versions-string", ["check", "b.json"], says="versions", files=baseline(versions="abc")),
    Case("baseline-data-list", ["check", "b.json"], says="data", files=baseline(data=[1, 2])),
    Case("baseline-degree-word", ["check", "b.json"], says="degree",
         files=baseline(cell={"spec": {"task": TASK, "teacher": "oracle", "student": STUDENT,
                                       "method": "fine-tune-cot", "degree": "x"}})),
    Case("baseline-spec-missing-task", ["check", "b.json"], says="task",
         files=baseline(cell={"spec": {"teacher": "oracle", "student": STUDENT, "method": "fine-tune-cot"}})),
    Case("baseline-spec-unknown-field", ["check", "b.json"], says="colour",
         files=baseline(cell={"spec": {"task": TASK, "teacher": "oracle", "student": STUDENT,
                                       "method": "fine-tune-cot", "colour": 1}})),
    Case("baseline-spec-lr-negative", ["check", "b.json"], says="lr",
         files=baseline(cell={"spec": {"task": TASK, "teacher": "oracle", "student": STUDENT,
                                       "method": "fine-tune-cot", "training": {"lr": -1}}})),
    Case("baseline-spec-method", ["check", "b.json"], says="method",
         files=baseline(cell={"spec": {"task": TASK, "teacher": "oracle", "student": STUDENT, "method": "magic"}})),
    Case("baseline-spec-not-object", ["check", "b.json"], says="spec", files=baseline(cell={"spec": [1]})),
    Case("baseline-cell-not-object", ["check", "b.json"], says="cells", files=baseline(cells=[3])),
    Case("baseline-scoring", ["check", "b.json"], says="scoring", files=baseline(scoring="lenient")),
    Case("baseline-duration-negative", ["check", "b.json"], says="duration_s", files=baseline(cell={"duration_s": -1})),
    Case("baseline-format-2", ["check", "b.json"], says="ftcot_baseline", files=baseline(ftcot_baseline=2)),
    Case("baseline-binary", ["check", "b.json"], says="UTF-8", files={"b.json": b"\x89PNG\r\n\x1a\n\xff\x00"}),
    Case("baseline-not-json", ["check", "b.json"], says="not valid JSON", files={"b.json": "{cells: []"}),
    Case("baseline-json-list", ["check", "b.json"], says="not an ftcot baseline", files={"b.json": "[]"}),
    # a plugin that cannot be built is reported before any cell runs (the good cell 1 does not run)
    Case("baseline-unknown-task", ["check", "b.json"], says="cell 2 (nosuch | oracle",
         files=baseline(cells=[cell(), cell(task="nosuch")])),
    Case("baseline-task-parameter", ["check", "b.json"], says="unknown parameter 'flipz'",
         files=baseline(cells=[cell(), cell(task="coin_flip:flipz=3")])),
    Case("baseline-unknown-teacher", ["check", "b.json"], says="teacher 'bogus'",
         files=baseline(cells=[cell(), cell(teacher="bogus")])),
    Case("baseline-replay-without-file", ["check", "b.json"], says="replay:PATH",
         files=baseline(cells=[cell(), cell(teacher="replay")])),
    Case("baseline-teacher-option", ["check", "b.json", "--no-run"], says="match must be one of",
         files=baseline(cells=[cell(teacher="replay:x.json", teacher_options={"match": "fuzzy"})])),
    Case("baseline-unknown-student", ["check", "b.json"], says="student 'gpt9'",
         files=baseline(cells=[cell(), cell(student="gpt9", method="fine-tune", teacher="none")])),
    Case("baseline-student-parameter", ["check", "b.json"], says="layers must be >= 1",
         files=baseline(cells=[cell(), cell(student="tiny-gpt2:layers=-1")])),
    Case("baseline-unknown-filter", ["check", "b.json"], says="filter 'nofilter'",
         files=baseline(cells=[cell(), cell(filters=["correct", "nofilter"])])),
    Case("baseline-every-plugin-problem", ["check", "b.json"], says="4 plugins that cannot be built",
         files=baseline(cells=[cell(task="nosuch", teacher="bogus", student="gpt9", filters=["nofilter"])])),
    Case("baseline-missing", ["check", "nope.json"], says="--update"),
    Case("baseline-dir", ["check", "{dir}"], says="directory"),
    Case("baseline-tolerance-negative", ["check", "b.json", "--tolerance", "-1"], says="--tolerance", files=baseline()),
    Case("baseline-tolerance-nan", ["check", "b.json", "--tolerance", "nan"], says="--tolerance", files=baseline()),
    Case("baseline-update-malformed", ["check", "--update", "b.json"], says="move it away",
         files={"b.json": "{not json"}),
    Case("baseline-update-foreign", ["check", "--update", "b.json"], says="not an ftcot baseline",
         files={"b.json": '{"mine": true}'}),
    Case("baseline-update-sqlite", ["check", "--update", "b.json"], says="SQLite",
         files={"b.json": b"SQLite format 3\x00" + b"\x00" * 100}),
    Case("baseline-update-over-store", ["check", "--update", STORE], says="store"),
    Case("baseline-update-dir", ["check", "--update", "{dir}"], says="directory"),
    # -- output paths -----------------------------------------------------------------------------
    Case("leaderboard-output-foreign", ["leaderboard", "--output", "notes.md"], says="did not write",
         files={"notes.md": "my notes\n"}),
    Case("leaderboard-output-sqlite", ["leaderboard", "--output", "other.db"], says="SQLite",
         files={"other.db": b"SQLite format 3\x00" + b"\x00" * 100}),
    Case("leaderboard-output-under-file", ["leaderboard", "--output", "notes.md/board.md"], says="is a file",
         files={"notes.md": "x"}),
    Case("leaderboard-output-shm", ["leaderboard", "--output", STORE + "-shm"], says="store"),
    Case("leaderboard-format-unknown", ["leaderboard", "--format", "pdf"], says="unknown reporter"),
    Case("demo-output-file", ["demo", "--output", "notes.md"], says="is a file", files={"notes.md": "x"}),
    Case("demo-edited-config", ["demo", "--output", "d", "--only", "seed=7"], says="refusing to replace",
         files={"d/demo.toml": demo_config_text().replace("seeds = ", "# mine\nseeds = ")}),
    Case("export-foreign-summary", ["export", "--output", "out"], says="did not write",
         files={"out/results.json": '{"mine": true}'}),
    Case("export-foreign-cell-results", ["export", "--output", "out"], says="did not write",
         files={f"out/{exported_folder()}/results.json": "mine\n"}),
    Case("export-foreign-samples", ["export", "--output", "out"], says="did not write",
         files={"out/results.json": '{"schema": "ftcot-results/1"}', f"out/{exported_folder()}/samples.jsonl": "mine\n"}),
    # -- data files ---------------------------------------------------------------------------------
    Case("data-show-index-unknown", ["data", "show", TASK, "999"], says="999"),
    Case("data-show-task-unknown", ["data", "show", "nosuch", "0"], says="unknown task"),
    Case("data-split-unknown", ["data", "split", TASK, "--split", "dev"], says="split"),
    Case("data-import-missing-source", ["data", "import", "nope"], says="not a directory"),
    Case("data-raw-corrupt", ["--data-dir", "d", "data", "show", "coin_flip", "0"], says="not valid JSON",
         files={"d/raw/coin_flip/coin_flip.json": "{oops", "d/splits/coin_flip__default.json": '{"train":[0],"test":[1]}'}),
    Case("data-raw-binary", ["--data-dir", "d", "data", "show", "coin_flip", "0"], says="coin_flip.json",
         files={"d/raw/coin_flip/coin_flip.json": b"\xff\xfe\x00\x01"}),
    Case("data-raw-wrong-shape", ["--data-dir", "d", "data", "show", "coin_flip", "0"], says="malformed",
         files={"d/raw/coin_flip/coin_flip.json": "[1, 2, 3]"}),
    Case("data-missing", ["--data-dir", "d", "data", "show", "coin_flip", "0"], says="missing",
         files={"d/readme": "empty"}),
    Case("data-split-corrupt", ["--data-dir", "d", "data", "split", "coin_flip", "--json"], says="corrupt",
         files={"d/splits/coin_flip__default.json": '{"train": "all"}'}),
    # -- replay files -----------------------------------------------------------------------------
    Case("replay-missing", ["teach", TASK, "--teacher", "replay:nope.json", "--no-progress"], says="does not exist"),
    Case("replay-not-json", ["teach", TASK, "--teacher", "replay:r.json", "--no-progress"], says="r.json",
         files={"r.json": "{oops"}),
    Case("replay-binary", ["teach", TASK, "--teacher", "replay:r.json", "--no-progress"], says="r.json",
         files={"r.json": b"\xff\xfe\x00\x01\x02"}),
    Case("replay-bad-line", ["teach", TASK, "--teacher", "replay:r.jsonl", "--no-progress"], says="line 2",
         files={"r.jsonl": '{"sample_index": 0}\n{oops\n'}),
    Case("replay-dir", ["teach", TASK, "--teacher", "replay:{dir}", "--no-progress"], says="replay"),
    Case("replay-empty", ["teach", TASK, "--teacher", "replay:r.jsonl", "--no-progress"], status=EXIT_NOTHING_DONE,
         says="no completions", files={"r.jsonl": "\n"}, adds="artifacts"),
    Case("replay-unmatched", ["teach", TASK, "--teacher", "replay:r.jsonl", "--no-progress"], status=EXIT_NOTHING_DONE,
         says="match no example", files={"r.jsonl": '{"sample_index": 999, "rationale": "x", "answer_text": "yes"}\n'},
         adds="artifacts"),
    Case("replay-match-unknown", ["teach", TASK, "--teacher", "replay:r.jsonl", "-o", "match=fuzzy"],
         says="match", files={"r.jsonl": "\n"}),
    # -- reports ----------------------------------------------------------------------------------
    Case("filter-report-nothing-stored", ["filter-report", TASK, "--teacher", "litellm:openai/m"],
         status=EXIT_NOTHING_DONE, says="ftcot teach"),
    Case("filter-report-drops-negative", ["filter-report", TASK, "--teacher", "oracle", "--drops", "-1"],
         says="--drops"),
    Case("filter-report-max-tokens-without-student", ["filter-report", TASK, "--teacher", "oracle",
                                                      "--filters", "max-tokens:64"], says="--student"),
    Case("filter-report-filter-unknown", ["filter-report", TASK, "--teacher", "oracle", "--filters", "nosuch"],
         says="unknown filter"),
    Case("unknown-command", ["frobnicate"], status=EXIT_USAGE, says="invalid choice"),
    Case("scoring-unknown", ["--scoring", "lenient", "tasks"], status=EXIT_USAGE, says="--scoring"),
]


# -- the harness -------------------------------------------------------------------------------------
def _snapshot(path: Path) -> tuple[str, dict[str, list[tuple]]]:
    """(integrity_check result, every row of every table), read without changing the file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        rows = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    finally:
        conn.close()
    return integrity, rows


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with oracle completions of TASK, a finished cell and an artifact."""
    folder = tmp_path_factory.mktemp("seeded")
    store = Store(folder / "ftcot.db")
    from ftcot.pipeline.teach import teach as run_teach
    from ftcot.registry import create_task

    task = create_task(TASK)
    run_teach(store, task, "oracle", task.train_examples(), progress=False)
    store.put_cell("k" * 64, CellResult(task=TASK, teacher="oracle", student=STUDENT, method="fine-tune-cot",
                                        degree=1, seed=0, scoring="paper", status="done", accuracy=0.75, n=4))
    # an exportable cell: its spec and predictions
    from ftcot.records import Prediction

    spec = EXPORTED
    tests = task.test_examples()
    store.put_predictions(cell_key(spec, "paper"), [
        Prediction(task=TASK, sample_index=e.sample_index, student=STUDENT, method="zero-shot", text=e.answer,
                   prediction=e.answer, correct=True) for e in tests])
    store.put_cell(cell_key(spec, "paper"), CellResult(
        task=TASK, teacher="none", student=STUDENT, method="zero-shot", scoring="paper", status="done",
        accuracy=1.0, n=len(tests), extra={"spec": spec.to_dict()}))
    store.close()
    return folder / "ftcot.db"


@pytest.fixture
def workdir(tmp_path: Path, seeded: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a copy of the seeded store at ``runs/ftcot.db``, as the default store."""
    (tmp_path / "runs").mkdir()
    shutil.copy(seeded, tmp_path / STORE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FTCOT_STORE", str(tmp_path / STORE))
    monkeypatch.setenv("FTCOT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("FTCOT_DEBUG", raising=False)
    return tmp_path


def run_cli(argv: list[str], capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
            stdin: str | bytes | None = None) -> tuple[int, str]:
    """``ftcot ARGV`` in this process: (exit status, stdout and stderr together)."""
    if stdin is not None:
        raw = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse: bad usage
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capfd.readouterr()
    return status, out + err


def assert_one_error(output: str, says: str = "") -> str:
    """The one ``error:`` line of ``output`` (which holds no traceback), containing ``says``."""
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if "error:" in line]
    assert len(lines) == 1, output
    assert says in output, f"{says!r} not in:\n{output}"
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, workdir: Path, capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, content in case.files.items():
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    if case.sql:
        with sqlite3.connect(workdir / STORE) as conn:
            conn.execute(case.sql)
        conn.close()
    before = _snapshot(workdir / STORE)
    argv = [arg.replace("{dir}", str(workdir)) for arg in case.argv]
    status, output = run_cli(argv, capfd, monkeypatch, case.stdin)
    assert status == case.status, output
    assert_one_error(output, case.says)
    after = _snapshot(workdir / STORE)
    assert after[0] == "ok"
    for table in filter(None, case.adds.split(",")):  # every row is still there (by its key), more were added
        assert {r[:2] for r in before[1][table]} < {r[:2] for r in after[1][table]}, set(after[1][table]) - set(before[1][table])
        before[1][table] = after[1][table] = []
    if case.adds:
        before[1].pop("artifacts"), after[1].pop("artifacts")
    assert after == before, {t: (set(after[1][t]) ^ set(before[1][t])) for t in after[1] if after[1][t] != before[1][t]}
    for name, content in case.files.items():  # no input file was touched either
        expected = content if isinstance(content, bytes) else content.encode("utf-8")
        assert (workdir / name).read_bytes() == expected


def test_enough_cases() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 130


def test_the_settings_model_names_every_training_setting() -> None:
    import dataclasses

    from ftcot.contracts.student import TrainConfig
    from ftcot.validation import TrainingSettings

    assert set(TrainingSettings.model_fields) == {f.name for f in dataclasses.fields(TrainConfig)}


def test_valid_settings_pass_unchanged_and_keep_their_cell_key() -> None:
    from ftcot.pipeline import CellSpec, cell_key

    spec = CellSpec(task=TASK, teacher="oracle", student=STUDENT, method="fine-tune-cot",
                    training={"max_steps": 2, "lr": 1e-3}, teacher_options={"concurrency": 4})
    assert spec.training == {"max_steps": 2, "lr": 1e-3} and spec.teacher_options == {"concurrency": 4}
    # the key of a cell does not depend on validation: the same dict hashes the same way as before
    assert cell_key(spec, "paper") == cell_key(CellSpec.from_dict(spec.to_dict()), "paper")


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_honour_the_umask(umask: int, workdir: Path, capfd, monkeypatch) -> None:
    import os
    import stat

    old = os.umask(umask)
    try:
        for argv in (["leaderboard", "--output", "board.md"], ["export", "--output", "out"]):
            status, output = run_cli(argv, capfd, monkeypatch)
            assert status == 0, output
    finally:
        os.umask(old)
    written = [workdir / "board.md", workdir / "out" / "results.json", *(workdir / "out").glob("*/*")]
    assert len(written) == 4
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o666 & ~umask}


def test_an_ascii_terminal_gets_output_not_an_internal_error(workdir: Path) -> None:
    import os
    import subprocess

    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    for argv in (["tasks"], ["leaderboard"]):
        result = subprocess.run([sys.executable, "-m", "ftcot.cli", *argv], capture_output=True, env=env, timeout=120)
        assert result.returncode == 0 and b"internal error" not in result.stderr, result.stderr
        result.stdout.decode("ascii")  # nothing the terminal cannot show


def test_strict_scoring_reads_numbers_longer_than_a_float() -> None:
    from ftcot.scoring import AnswerFormat, extract, is_correct

    number = AnswerFormat("number")
    for digits in ("9" * 400, "9" * 400 + ".5", "1e999"):
        prediction = extract(f"The answer is {digits}.", number, "direct", "strict")
        assert prediction is not None and not is_correct(prediction, "42", number, "strict")


def test_a_provider_error_from_a_worker_keeps_its_cause() -> None:
    import pickle

    import httpx
    import openai

    from ftcot.matrix.executors import WorkerError, portable

    response = httpx.Response(401, request=httpx.Request("POST", "http://127.0.0.1:9/v1/files"))
    error = openai.AuthenticationError("Incorrect API key provided", response=response, body=None)
    carried = pickle.loads(pickle.dumps(portable(error)))
    assert isinstance(carried, WorkerError) and carried.kind == "AuthenticationError"
    assert "Incorrect API key" in str(carried)
    plain = UserError("a plain one")
    assert portable(plain) is plain


def test_a_locked_or_read_only_store_is_not_called_damaged(workdir: Path) -> None:
    from ftcot.store import store_problem

    path = workdir / STORE
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        waiting = sqlite3.connect(path, timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError) as locked:
            waiting.execute("BEGIN IMMEDIATE")
        waiting.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as read_only:
        reader.execute("DELETE FROM cells")
    reader.close()
    said = {name: store_problem(path, exc.value) for name, exc in (("locked", locked), ("read-only", read_only))}
    assert "locked by another process" in said["locked"] and "not writable" in said["read-only"]
    for line in said.values():
        assert "intact" in line and "damaged" not in line and "\n" not in line
    assert "damaged" in store_problem(path, sqlite3.DatabaseError("file is not a database"))


def test_matrix_plan_never_shows_a_negative_cached_count(workdir: Path, capfd, monkeypatch) -> None:
    lines = [json.dumps({"sample_index": i, "completion_index": k, "rationale": f"r{k}", "answer_text": "yes"})
             for i in range(8) for k in range(3)]  # three samples of each example, D = 1
    (workdir / "r.jsonl").write_text("\n".join(lines) + "\n")
    config = GOOD_TOML.replace('["oracle"]', '["replay:r.jsonl"]') + "[teacher]\nall_completions = true\n"
    (workdir / "m.toml").write_text(config)
    status, output = run_cli(["matrix", "plan", "m.toml", "--json"], capfd, monkeypatch)
    assert status == 0, output
    plan = json.loads(output[output.index("{"):])
    assert plan["teachers"] and all(0 <= t["cached"] <= t["needed"] for t in plan["teachers"])
