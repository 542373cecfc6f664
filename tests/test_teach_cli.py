"""``ftcot teach`` and ``ftcot teacher-report`` from the command line."""

from __future__ import annotations

import json

import pytest
from openai_server import OpenAIServer

from ftcot import registry as plugins
from ftcot.cli import main
from ftcot.store import Store

SMALL = "coin_flip:flips=2,train=6,test=2"
BIG = "coin_flip:flips=2,train=9,test=2"
MODEL = "litellm:text-completion-openai/gpt-3.5-turbo-instruct"


def teach_json(capsys, data_dir, *args: str) -> dict:
    assert main(["--data-dir", str(data_dir), "teach", *args, "--json", "--no-progress"]) == 0
    return json.loads(capsys.readouterr().out)


def test_teacher_report_counts_shared_completions_for_each_task(tmp_path, store_path, capsys):
    task = plugins.create_task(BIG, data_dir=tmp_path)
    answers = {e.question: e.answer for e in task.examples()}
    answers[task.examples()[0].question] = "yes" if task.examples()[0].answer == "no" else "no"  # one wrong
    with OpenAIServer(answers=answers) as server:
        common = ["--teacher", MODEL, "--api-base", server.url, "--timeout", "5"]
        small = teach_json(capsys, tmp_path, SMALL, *common)
        big = teach_json(capsys, tmp_path, BIG, *common)
        assert max(server.answered().values()) == 1
    assert (small["new"], small["correct"]) == (6, 5)
    assert (big["new"], big["cached"], big["correct"]) == (3, 6, 8)
    assert big["cost_usd"] > small["cost_usd"] > 0

    assert main(["teacher-report", "--json"]) == 0
    rows = {r["task"]: r for r in json.loads(capsys.readouterr().out)}
    completions = {c.sample_index: c for c in Store(store_path).completions()}
    for spec, n in ((SMALL, 6), (BIG, 9)):
        key = plugins.create_task(spec, data_dir=tmp_path).key
        row = rows[key]
        assert (row["teacher"], row["examples"], row["completions"], row["failed"]) == (MODEL, n, n, 0)
        assert row["correct"] == n - 1 and row["accuracy"] == pytest.approx((n - 1) / n)
        mine = [completions[i] for i in range(n)]
        assert row["prompt_tokens"] == sum(c.prompt_tokens for c in mine)
        assert row["completion_tokens"] == sum(c.completion_tokens for c in mine)
        assert row["cost_usd"] == pytest.approx(sum(c.cost_usd for c in mine))

    assert main(["teacher-report", "coin_flip", "--teacher", "oracle", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["teacher-report"]) == 0
    table = capsys.readouterr().out
    assert "88.9%" in table and "83.3%" in table


def test_templates_are_options_and_part_of_the_key(tmp_path, store_path, capsys):
    common = [SMALL, "--teacher", "oracle"]
    teach_json(capsys, tmp_path, *common)
    template = json.dumps({"reasoning": "Question: {question}\nAnswer: Step by step."})
    custom = teach_json(capsys, tmp_path, *common, "-o", f"templates={template}")
    assert custom["new"] == 6 and custom["accuracy"] == 1.0
    prompts = {c.reasoning_prompt.split("\n")[0][:9] for c in Store(store_path).completions()}
    assert prompts == {"Q: A coin", "Question:"}
    assert len(Store(store_path).completions()) == 12


@pytest.mark.parametrize("args, message", [
    (["--teacher", "nosuch"], "unknown teacher"),
    (["--teacher", "litellm"], "litellm:MODEL"),
    (["--teacher", "oracle", "-D", "0"], "degree"),
    (["--teacher", "oracle", "-o", "templates={\"answer\": \"no fields\"}"], "answer template"),
    (["--teacher", "replay"], "replay:PATH"),
])
def test_bad_input_is_a_one_line_user_error(tmp_path, store_path, capsys, args, message):
    assert main(["--data-dir", str(tmp_path), "teach", SMALL, *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.startswith("error:") and "Traceback" not in err


def test_human_output_names_the_counts(tmp_path, store_path, capsys):
    assert main(["--data-dir", str(tmp_path), "teach", SMALL, "--teacher", "oracle", "--no-progress"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "6 examples" in out and "6 completions (6 new, 0 cached)" in out and "accuracy 100.0%" in out
