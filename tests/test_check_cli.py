"""``ftcot check`` end to end on real tiny cells: write a baseline from the store, gate a run
against it, run the cells of a baseline in a fresh store."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ftcot.check import Baseline, Z, binomial_variance
from ftcot.cli import main
from ftcot.pipeline import CellSpec, cell_key, run_cell
from ftcot.registry import create_task
from ftcot.store import Store

REPO = Path(__file__).resolve().parents[1]
TASK = "coin_flip:flips=2,train=32,test=16,seed=0"
SPEC = CellSpec(task=TASK, teacher="none", student="tiny-gpt2", method="fine-tune",
                training={"max_steps": 20, "batch_size": 16, "max_new_tokens": 8})


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one finished tiny cell (trained once for the whole module)."""
    path = tmp_path_factory.mktemp("check") / "ftcot.db"
    store = Store(path)
    cell = run_cell(SPEC, store, None, "paper", progress=False)
    assert cell.status == "done" and cell.n == 16
    store.close()
    return path


def ftcot(store: Path, *args: str) -> int:
    return main(["--store", str(store), *args])


def stored(store_path: Path):
    store = Store(store_path)
    try:
        return store.get_cell(cell_key(SPEC, "paper"))
    finally:
        store.close()


def test_update_writes_the_baseline_from_the_store(ran: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "baselines" / "b.json"
    assert ftcot(ran, "check", "--update", str(path)) == 0
    assert f"wrote {path}: 1 cells" in capsys.readouterr().out
    data = json.loads(path.read_text())
    cell = stored(ran)
    assert data["scoring"] == "paper"
    assert [c["spec"] for c in data["cells"]] == [SPEC.to_dict()]
    assert data["cells"][0]["accuracy"] == cell.accuracy and data["cells"][0]["n"] == 16
    assert data["cells"][0]["key"] == cell_key(SPEC, "paper")
    assert data["data"] == {TASK: create_task(TASK, data_dir=None).fingerprint()}
    assert set(data["versions"]) >= {"ftcot", "torch", "transformers"}


def test_same_cells_pass_and_a_drop_fails_with_a_table(ran: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "b.json"
    assert ftcot(ran, "check", "--update", str(path)) == 0
    capsys.readouterr()
    assert ftcot(ran, "check", str(path)) == 0
    out = capsys.readouterr().out
    assert "1 cells within tolerance" in out and "ok" in out

    data = json.loads(path.read_text())
    data["cells"][0].update(accuracy=1.0, n=10_000)
    path.write_text(json.dumps(data))
    store = Store(ran)
    original = store.get_cell(cell_key(SPEC, "paper"))
    try:  # a later run that got worse: 8 of 16 right where the baseline had everything right
        store.put_cell(cell_key(SPEC, "paper"), dataclasses.replace(original, accuracy=0.5))
        assert ftcot(ran, "check", str(path)) == 1
        out = capsys.readouterr().out
        assert "1 of 1 cells got worse" in out
        assert "worse" in out and "100.0" in out and "50.0" in out and "-50.0" in out
        assert "tiny-gpt2" in out
        # a fixed tolerance of 60 points waves the same drop through
        assert ftcot(ran, "check", str(path), "--tolerance", "60") == 0
        capsys.readouterr()
        assert ftcot(ran, "check", str(path), "--json") == 1
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] is False and report["regressions"] == 1
        row = report["rows"][0]
        assert row["verdict"] == "worse" and row["change_points"] == pytest.approx(-50.0)
        assert row["tolerance_points"] == pytest.approx(
            100 * Z * (binomial_variance(1.0, 10_000) + binomial_variance(0.5, 16)) ** 0.5)
    finally:
        store.put_cell(cell_key(SPEC, "paper"), original)
        store.close()


def test_changed_texts_and_throughput_fail_the_gate_and_say_why(ran: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "b.json"
    assert ftcot(ran, "check", "--update", str(path)) == 0
    assert "detects drops over" in capsys.readouterr().out
    data = json.loads(path.read_text())
    cell = data["cells"][0]
    assert cell["texts"]["train_target"].endswith(" END") and cell["texts"]["train_data"].startswith("32 samples")
    assert set(cell["throughput"]) == {"train", "eval"}

    cell["throughput"] = {k: v * 1000 for k, v in cell["throughput"].items()}  # a baseline 1000x faster
    path.write_text(json.dumps(data))
    assert ftcot(ran, "check", str(path)) == 0  # machines differ: throughput is not checked by default
    capsys.readouterr()
    assert ftcot(ran, "check", str(path), "--speed", "3") == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "slower:" in out and "training" in out and "x slower" in out
    assert ftcot(ran, "check", str(path), "--speed", "0.5") == 1
    assert "--speed must be a finite factor >= 1" in capsys.readouterr().err

    cell["texts"]["eval_prompt"] = cell["texts"]["eval_prompt"].replace(" ###", " ##")
    path.write_text(json.dumps(data))
    assert ftcot(ran, "check", str(path), "--json") == 1
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["verdict"] == "changed" and row["detail"].startswith("eval_prompt: ")


def test_missing_and_failed_cells_fail_the_gate(ran: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "b.json"
    assert ftcot(ran, "check", "--update", str(path)) == 0
    data = json.loads(path.read_text())
    first = data["cells"][0]
    unknown = dict(first, spec=dict(first["spec"], student="no-such-student"))
    other_seed = dict(first, spec=dict(first["spec"], seed=7))
    data["cells"] += [unknown, other_seed]
    path.write_text(json.dumps(data))
    capsys.readouterr()
    assert ftcot(ran, "check", str(path), "--no-run", "--json") == 1  # the unknown student stops it first
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith("error: baseline") and "cell 2 (" in out.err
    assert "unknown student 'no-such-student'" in out.err

    data["cells"] = [first, other_seed]
    path.write_text(json.dumps(data))
    assert ftcot(ran, "check", str(path), "--no-run", "--json") == 1
    verdicts = {(r["student"], r["seed"]): r["verdict"] for r in json.loads(capsys.readouterr().out)["rows"]}
    assert verdicts == {("tiny-gpt2", 0): "ok", ("tiny-gpt2", 7): "missing"}

    # a teacher that builds but cannot run: the cell fails, with its error, when run
    no_file = dict(first["spec"], method="fine-tune-cot", teacher=f"replay:{tmp_path / 'absent.json'}")
    data["cells"] = [first, dict(first, spec=no_file)]
    path.write_text(json.dumps(data))
    assert ftcot(ran, "check", str(path)) == 1
    out = capsys.readouterr().out
    assert "1 of 2 cells got worse" in out and "failed" in out and "does not exist" in out


def test_data_and_version_differences_are_warnings(ran: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "b.json"
    assert ftcot(ran, "check", "--update", str(path)) == 0
    data = json.loads(path.read_text())
    data["data"][TASK] = "0" * 64
    data["versions"]["transformers"] = "4.0.0"
    path.write_text(json.dumps(data))
    capsys.readouterr()
    assert ftcot(ran, "check", str(path)) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"warning: task {TASK}: data fingerprint" in out and "not comparable" in out
    assert "warning: transformers" in out and "4.0.0 in the baseline" in out


def test_update_keeps_the_baseline_cells_and_needs_them_finished(ran: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "b.json"
    assert ftcot(ran, "check", "--update", str(path)) == 0
    data = json.loads(path.read_text())
    data["cells"][0]["accuracy"] = 0.123
    path.write_text(json.dumps(data))
    assert ftcot(ran, "check", "--update", str(path)) == 0
    assert Baseline.load(path).cells[0].accuracy == stored(ran).accuracy

    data["cells"].append(dict(data["cells"][0], spec=dict(data["cells"][0]["spec"], seed=9)))
    path.write_text(json.dumps(data))
    capsys.readouterr()
    assert ftcot(ran, "check", "--update", str(path)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: 1 cell(s) of the baseline are not finished in the store") and "seed=9" in err
    assert len(err.strip().splitlines()) == 1

    empty = tmp_path / "empty.db"
    assert ftcot(empty, "check", "--update", str(tmp_path / "new.json")) == 1
    assert "holds no finished cells" in capsys.readouterr().err
    assert ftcot(empty, "check", str(tmp_path / "absent.json")) == 1
    assert "does not exist" in capsys.readouterr().err


def test_check_runs_the_baseline_cells_in_a_fresh_store(ran: Path, tmp_path: Path, capsys) -> None:
    """What CI does: a new store, the baseline's cells run from scratch, the same accuracy."""
    path = tmp_path / "b.json"
    assert ftcot(ran, "check", "--update", str(path)) == 0
    fresh = tmp_path / "fresh" / "ftcot.db"
    capsys.readouterr()
    assert ftcot(fresh, "check", str(path), "--json") == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["verdict"] == "ok" and row["current"]["status"] == "done"
    assert row["current"]["accuracy"] == stored(ran).accuracy  # seeded training on CPU repeats itself
    assert stored(fresh) is not None


def test_demo_baseline_names_exactly_the_demo_cells() -> None:
    """CI gates ``ftcot demo`` with ``baselines/demo.json``: when the demo's cells change, the
    baseline must be recorded again (``ftcot --store DEMO/ftcot.db check --update baselines/demo.json``
    after a fresh ``ftcot demo --output DEMO``)."""
    from ftcot.commands.demo import demo_config_text
    from ftcot.matrix.config import parse_config
    from ftcot.matrix.plan import expand

    baseline = Baseline.load(REPO / "baselines" / "demo.json")
    demo = expand(parse_config(demo_config_text(), REPO / "examples" / "demo.toml"))
    recorded = {cell_key(CellSpec.from_dict(c.spec), baseline.scoring) for c in baseline.cells}
    assert recorded == {cell_key(spec, baseline.scoring) for spec in demo}
    assert all(c.n > 0 and 0.0 <= c.accuracy <= 1.0 for c in baseline.cells)
    assert baseline.data == {t: create_task(t, data_dir=None).fingerprint() for t in {s.task for s in demo}}


def test_ci_baseline_names_the_ci_cells_each_with_its_seed_spread_and_texts() -> None:
    """CI gates ``examples/ci.toml``'s cells with ``baselines/ci.json`` (see the README's gate
    section): every cell far from chance, with the noise of three seeds and the texts it builds."""
    from ftcot.matrix.config import load_config
    from ftcot.matrix.plan import expand

    baseline = Baseline.load(REPO / "baselines" / "ci.json")
    cells = expand(load_config(REPO / "examples" / "ci.toml"))
    assert {cell_key(CellSpec.from_dict(c.spec), baseline.scoring) for c in baseline.cells} == {
        cell_key(spec, baseline.scoring) for spec in cells}
    for cell in baseline.cells:
        assert cell.seeds == 3 and cell.spread is not None and cell.texts and cell.throughput
        assert cell.accuracy >= 0.9 and 100 * cell.detects < 15, cell.label


def test_a_cell_that_cannot_be_built_stops_the_gate_before_any_cell_runs(tmp_path: Path) -> None:
    from ftcot.check import BaselineCell, check, plugin_problems
    from ftcot.errors import UserError

    good = BaselineCell(spec=SPEC.to_dict(), accuracy=0.5, n=16)
    bad = BaselineCell(spec={**SPEC.to_dict(), "method": "fine-tune-cot", "teacher": "replay",
                             "student": "tiny-gpt2:layers=0"}, accuracy=0.5, n=16)
    baseline = Baseline(cells=[good, bad])
    problems = plugin_problems(baseline, tmp_path)
    assert [line.split(": ")[1] for line in problems] == ["teacher 'replay'", "student 'tiny-gpt2:layers=0'"]
    assert all(line.startswith(f"cell 2 ({bad.label})") for line in problems)
    assert plugin_problems(Baseline(cells=[good]), tmp_path) == []
    store = Store(tmp_path / "s.db")
    with pytest.raises(UserError, match=r"the baseline names 2 plugins that cannot be built"):
        check(baseline, store, tmp_path)
    assert store.cells() == []  # the good cell 1 did not run either
