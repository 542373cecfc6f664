"""Matrix configs: validation with line numbers, grid expansion, overrides, --only, plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import real_data_dir

from ftcot.errors import UserError
from ftcot.matrix.config import load_config, parse_config
from ftcot.matrix.plan import expand, parse_only, plan_cells
from ftcot.store import Store

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
tasks = ["coin_flip:flips=2,train=12,test=4,seed=0", "last_letter_concatenation:words=2,train=12,test=4"]
teachers = ["oracle"]
students = ["tiny-llama", "tiny-gpt2"]
methods = ["fine-tune", "fine-tune-cot", "zero-shot"]
degrees = [1, 4]
seeds = [0, 1]
store = "runs/x.db"
parallel = 2

[training]
max_steps = 3
batch_size = 4

[teacher]
temperature = 0.7
"""


def write(tmp_path: Path, text: str, name: str = "m.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_config_expands_the_grid(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    specs = expand(config)
    # per task and student: fine-tune and zero-shot once per seed; fine-tune-cot per teacher, D and seed
    assert len(specs) == 2 * 2 * (1 * 2 + 1 * 2 + 1 * 2 * 2)
    no_teacher = [s for s in specs if s.method != "fine-tune-cot"]
    assert {s.teacher for s in no_teacher} == {"none"} and {s.degree for s in no_teacher} == {1}
    assert {s.degree for s in specs if s.method == "fine-tune-cot"} == {1, 4}
    assert all(s.training == {"max_steps": 3, "batch_size": 4} for s in specs)
    assert {s.teacher_options.get("temperature") for s in specs if s.method == "fine-tune-cot"} == {0.7}
    assert config.store == (tmp_path / "runs" / "x.db").resolve()
    assert config.parallel == 2


def test_overrides_per_task_and_student(tmp_path: Path) -> None:
    text = """\
methods = ["fine-tune"]
[training]
max_steps = 3
lr = 0.001
[tasks."coin_flip:flips=2,train=12,test=4"]
training = { max_steps = 7 }
[tasks."last_letter_concatenation:words=2,train=12,test=4"]
[students."tiny-llama"]
num_cpus = 2
training = { lr = 0.01 }
[students."tiny-gpt2"]
num_gpus = 1
"""
    config = load_config(write(tmp_path, text))
    assert config.tasks == ["coin_flip:flips=2,train=12,test=4", "last_letter_concatenation:words=2,train=12,test=4"]
    assert config.students == ["tiny-llama", "tiny-gpt2"]
    specs = {(s.task.partition(":")[0], s.student): s.training for s in expand(config)}
    assert specs[("coin_flip", "tiny-llama")] == {"max_steps": 7, "lr": 0.01}
    assert specs[("coin_flip", "tiny-gpt2")] == {"max_steps": 7, "lr": 0.001}
    assert specs[("last_letter_concatenation", "tiny-gpt2")] == {"max_steps": 3, "lr": 0.001}
    assert config.resources_for("tiny-llama") == {"num_cpus": 2.0, "num_gpus": 0.0}
    assert config.resources_for("tiny-gpt2") == {"num_cpus": 1.0, "num_gpus": 1.0}


BAD = """\
tasks = ["coin_flip:flips=2", "no_such_task"]
teachers = ["oracle",
  "wizard:gpt-9"]
methods = ["fine-tune", "distill-harder"]
degrees = [1, 0]
seeds = "zero"
paralel = 2
parallel = "two"
scoring = "lenient"

[training]
max_steps = 3
learning_rate = 0.1

[students."tiny-llama"]
num_gpus = -1
colour = "blue"
[students."tiny-bert"]
"""


def test_every_problem_is_reported_once_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        load_config(write(tmp_path, BAD))
    message = str(info.value)
    expected = [
        (1, "unknown task 'no_such_task'"),
        (3, "unknown teacher 'wizard'"),
        (4, "'distill-harder' is not a method"),
        (5, "degrees: 0 is not an integer >= 1"),
        (6, "seeds must be a list"),
        (7, "unknown key 'paralel'"),
        (8, "parallel must be an integer >= 1"),
        (9, "scoring must be one of paper, strict"),
        (13, "unknown training setting 'learning_rate'"),
        (16, "num_gpus must be a number >= 0"),
        (17, "unknown key 'colour'"),
        (18, "unknown student 'tiny-bert'"),
    ]
    for line, text in expected:
        matching = [row for row in message.splitlines() if text in row]
        assert matching, f"missing {text!r} in:\n{message}"
        assert matching[0].strip().startswith(f"line {line}:"), matching[0]
    assert f"has {len(expected)} problems" in message


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not valid TOML"):
        load_config(write(tmp_path, "tasks = [\n"))


def test_fine_tune_cot_needs_teachers(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs `teachers`"):
        parse_config('tasks=["coin_flip"]\nstudents=["tiny-llama"]\nmethods=["fine-tune-cot"]\n', tmp_path / "x.toml")


def test_only_keeps_commas_inside_specs() -> None:
    only = parse_only(["task=coin_flip:flips=2,train=12,student=tiny-llama", "method=fine-tune"])
    assert only == {"task": {"coin_flip:flips=2,train=12"}, "student": {"tiny-llama"}, "method": {"fine-tune"}}
    with pytest.raises(UserError, match="FIELD=VALUE"):
        parse_only(["coin_flip"])


def test_plan_selects_with_only_and_reads_the_store(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    store = Store(tmp_path / "s.db")
    cells = plan_cells(config, store, "paper", parse_only(["task=coin_flip,method=fine-tune-cot,seed=1"]))
    assert len(cells) == 2 * 2  # students x degrees
    assert all(c.status == "todo" for c in cells)
    assert len({c.key for c in cells}) == len(cells)
    with pytest.raises(UserError, match="selects no cell"):
        plan_cells(config, store, "paper", parse_only(["student=nobody"]))


def data_env() -> dict[str, str | None]:
    """The real data directory, where there is one, for the paper's grid."""
    return {"FTCOT_DATA_DIR": str(real_data_dir())} if real_data_dir() is not None else {}


def test_plan_command_counts_cells_and_teacher_work(tmp_path: Path, cli_process) -> None:
    path = write(tmp_path, GOOD)
    result = cli_process("matrix", "plan", str(path), "--json", cwd=tmp_path, env=data_env(), timeout=300)
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert (plan["cells"], plan["done"], plan["failed"], plan["todo"]) == (32, 0, 0, 32)
    groups = {(t["task"].partition(":")[0], t["teacher"], t["part"]): t for t in plan["teachers"]}
    assert len(groups) == len(plan["teachers"]) == 4  # two tasks: training and test questions
    coin = groups[("coin_flip", "oracle", "train")]
    # D=1 and D=4 share the configured temperature, so D=4's completions include D=1's
    assert coin["examples"] == 12 and coin["degree"] == 4 and coin["needed"] == 48
    assert coin["calls"] == 0 and coin["cost_usd"] == 0.0  # the oracle computes rationales locally
    test = groups[("coin_flip", "oracle", "test")]
    assert (test["examples"], test["degree"], test["temperature"]) == (4, 1, 0.0)
    bad = cli_process("matrix", "plan", str(write(tmp_path, BAD, "bad.toml")), cwd=tmp_path, env=data_env(),
                      timeout=300)
    assert bad.code == 1 and bad.err.startswith("error: matrix config")
    assert "Traceback" not in bad.err


def test_paper_config_plans_the_papers_grid(tmp_path: Path, cli_process) -> None:
    result = cli_process("matrix", "plan", str(REPO / "examples" / "paper.toml"), "--json", cwd=tmp_path,
                         env=data_env(), timeout=300)
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    cells = plan["cells_list"]
    assert len({c["task"] for c in cells}) == 12
    assert {c["method"] for c in cells} == {"fine-tune-cot", "fine-tune", "zero-shot", "zero-shot-cot", "few-shot-cot"}
    assert max(c["degree"] for c in cells) == 64
    students = {c["student"] for c in cells}
    assert {s.partition(":")[0] for s in students} == {"hf"}
    assert any("gpt2" in s for s in students) and any("t5" in s and "flan" not in s for s in students)
    assert any("flan-t5" in s for s in students)
    assert {c["teacher"] for c in cells if c["method"] == "fine-tune-cot"} == {"litellm:text-completion-openai/gpt-3.5-turbo-instruct"}
    # an API teacher: calls, tokens and cost are estimated for every task whose training data is present
    if real_data_dir() is not None:
        present = [t for t in plan["teachers"] if not t["note"]]
        assert len(present) >= 11  # AQUA's training file may be missing
        assert all(t["calls"] == t["needed"] > 0 and t["prompt_tokens"] > 0 for t in present)
        assert plan["cost_usd"] > 0
