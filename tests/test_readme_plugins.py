"""Every plugin example in the README, installed as its own package and run: listed by
``ftcot plugins``, used in real tiny cells and by ``ftcot leaderboard --format``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ftcot.testing import install_package

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = re.compile(r"<!-- plugin-example: (\S+) (\S+) -->\n```python\n(.*?)```", re.S)
TINY = "tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300"
EXPECTED = {("task", "sort_digits"), ("task", "capitals"), ("teacher", "reference"),
            ("student", "lookup"), ("filter", "max_words"), ("reporter", "tsv")}
CAPITALS = [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Peru", "Lima"),
            ("Japan", "Tokyo"), ("Kenya", "Nairobi"), ("Chile", "Santiago"), ("Egypt", "Cairo"),
            ("Cuba", "Havana"), ("Fiji", "Suva"), ("Mali", "Bamako"), ("Laos", "Vientiane")]


def readme_examples() -> list[tuple[str, str, str]]:
    """(distribution, module, source) of every marked example."""
    return MARKER.findall(README.read_text(encoding="utf-8"))


def test_readme_has_one_example_per_kind() -> None:
    sources = [source for _, _, source in readme_examples()]
    assert len(sources) == 6
    for source in sources:
        imports = re.findall(r"^(?:from|import) (\S+)", source, re.M)
        assert all(name in ("ftcot", "ftcot.api", "json") for name in imports), imports
    hooks = {hook for source in sources for hook in re.findall(r"def (ftcot_register_\w+)", source)}
    assert hooks == {f"ftcot_register_{kind}s" for kind in ("task", "teacher", "student", "filter", "reporter")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("readme")
    site = root / "site"
    for dist, module, source in readme_examples():
        install_package(site, dist, module, source)
    data = root / "data"
    (data / "raw" / "capitals").mkdir(parents=True)
    (data / "splits").mkdir()
    rows = [{"country": c, "capital": k,
             # every third fact is long, so max_words:8 drops it
             "fact": f"The capital of {c} is {k}." + (" It is also its largest city by far." if i % 3 == 0 else "")}
            for i, (c, k) in enumerate(CAPITALS)]
    (data / "raw" / "capitals" / "capitals.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (data / "splits" / "capitals__default.json").write_text(json.dumps({"train": list(range(8)),
                                                                        "test": list(range(8, 12))}))
    return {"site": site, "data": data, "store": root / "store" / "ftcot.db"}


def ftcot(paths: dict[str, Path], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(paths["site"]), "FTCOT_THREADS": "1"}
    env.pop("FTCOT_LOAD_PLUGINS", None)
    result = subprocess.run([sys.executable, "-m", "ftcot.cli", "--store", str(paths["store"]),
                             "--data-dir", str(paths["data"]), *args],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "warning:" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    return result


def test_examples_are_listed_with_their_parameters(installed: dict[str, Path]) -> None:
    rows = json.loads(ftcot(installed, "plugins", "--json").stdout)
    mine = {(r["kind"], r["name"]): r for r in rows if r["package"] != "ftcot"}
    assert set(mine) == EXPECTED
    assert all(r["problem"] is None for r in mine.values())
    assert [p["name"] for p in mine[("task", "sort_digits")]["params"]] == ["digits", "train", "test", "seed"]
    assert mine[("teacher", "reference")]["params"][0]["help"] == "text written before each rationale"
    tasks = {r["name"]: r for r in json.loads(ftcot(installed, "tasks", "--json").stdout)}
    assert tasks["sort_digits"]["generator"] == "sort_digits:digits=4,train=200,test=50,seed=0"
    assert (tasks["capitals"]["size"], tasks["capitals"]["train"], tasks["capitals"]["test"]) == (12, 8, 4)
    assert tasks["capitals"]["answer_type"] == "text" and tasks["capitals"]["problem"] is None


def test_generated_task_runs_with_the_oracle_teacher(installed: dict[str, Path]) -> None:
    out = ftcot(installed, "distill", "sort_digits:digits=3,train=8,test=4", "--teacher", "oracle",
                "--student", TINY, "--max-steps", "2", "--max-new-tokens", "24", "--json").stdout
    cell = json.loads(out)
    assert (cell["n"], cell["train_samples"]) == (4, 8)
    assert 0.0 <= cell["accuracy"] <= 1.0


def test_teacher_student_filter_and_reporter_run(installed: dict[str, Path]) -> None:
    out = ftcot(installed, "distill", "capitals", "--teacher", "reference:", "--student", "lookup:fallback=Oslo",
                "--filters", "correct,max_words:8", "--json").stdout
    cell = json.loads(out)
    assert cell["filters"] == ["correct", "max_words:8"]
    assert (cell["n"], cell["train_samples"]) == (4, 5)  # 3 of the 8 training facts are long
    assert cell["accuracy"] == 0.0  # the test questions were never seen
    tsv = ftcot(installed, "leaderboard", "--format", "tsv").stdout.splitlines()
    assert tsv[0].startswith("# scoring: paper")
    header = tsv[1].split("\t")
    assert header[:4] == ["student", "method", "teacher", "D"] and "capitals" in header
    lookup = [line.split("\t") for line in tsv[2:] if line.startswith("lookup:fallback=Oslo")]
    assert len(lookup) == 1
    assert lookup[0][header.index("capitals")] == "0.0000"
