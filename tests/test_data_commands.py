"""``ftcot tasks``, ``ftcot data status|import|fetch|split|show`` and ``ftcot score``, run through the
real command line; ``data fetch`` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import shutil
import threading
from pathlib import Path

import pytest
from conftest import real_data_dir

from ftcot import data_install as catalog
from ftcot.api import RawFile
from ftcot.cli import main
from ftcot.contracts.task import clear_cache
from ftcot.tasks.coin_flip import CoinFlip

FIXTURES = Path(__file__).parent / "fixtures" / "data"
REAL = real_data_dir()
needs_real = pytest.mark.skipif(REAL is None or not (REAL / "raw").is_dir(),
                                reason="real dataset files not found: set FTCOT_DATA_DIR or provide ../shared/data")


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def run_cli(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- ftcot tasks ----------------------------------------------------------------------------------


def test_tasks_json_lists_size_split_type_and_presence(capsys, store_path):
    code, out, _ = run_cli(capsys, "--data-dir", str(FIXTURES), "tasks", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert len(rows) == 12
    for row in rows.values():
        assert {"name", "size", "train", "test", "answer_type", "present"} <= set(row)
    assert (rows["gsm8k"]["size"], rows["gsm8k"]["train"], rows["gsm8k"]["test"]) == (5, 3, 2)
    assert rows["gsm8k"]["answer_type"] == "number" and rows["gsm8k"]["present"] is True
    assert rows["aqua"]["present"] is True and rows["aqua"]["distillable"] is False
    assert rows["strategy_qa"]["answer_type"] == "yes_no"
    assert rows["last_letter_concatenation"]["answer_type"] == "text"
    assert rows["coin_flip"]["generator"] == "coin_flip:flips=4,train=350,test=150,seed=0"


def test_tasks_json_without_data(capsys, store_path, tmp_path):
    code, out, _ = run_cli(capsys, "--data-dir", str(tmp_path), "tasks", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert all(r["present"] is False for r in rows.values())
    assert rows["gsm8k"]["size"] == 8792  # the paper's size, from the declared files


@needs_real
def test_tasks_json_on_the_real_data(capsys, store_path):
    code, out, _ = run_cli(capsys, "--data-dir", str(REAL), "tasks", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert (rows["commonsense_qa"]["size"], rows["commonsense_qa"]["train"], rows["commonsense_qa"]["test"]) == (
        10962, 9741, 1221)
    assert all(r["present"] for r in rows.values())


# -- data status ----------------------------------------------------------------------------------


def test_status_reports_missing_files_with_the_fix(capsys, store_path, tmp_path):
    code, out, _ = run_cli(capsys, "--data-dir", str(tmp_path), "data", "status", "--json")
    assert code == 0
    rows = {r["task"]: r for r in json.loads(out)["tasks"]}
    assert rows["svamp"]["present"] is False
    assert "raw/svamp/SVAMP.json" in rows["svamp"]["missing"]
    assert "ftcot data fetch svamp" in rows["svamp"]["note"]


def test_status_flags_files_that_are_not_the_papers(capsys, store_path):
    code, out, _ = run_cli(capsys, "--data-dir", str(FIXTURES), "data", "status", "coin_flip", "--json")
    [row] = json.loads(out)["tasks"]
    assert row["present"] is True and row["ok"] is False
    assert "checksum differs" in row["note"]


@needs_real
def test_status_on_the_real_data(capsys, store_path):
    code, out, _ = run_cli(capsys, "--data-dir", str(REAL), "data", "status", "--json")
    doc = json.loads(out)
    rows = {r["task"]: r for r in doc["tasks"]}
    assert all(rows[name]["ok"] for name in rows)
    assert all(f["ok"] for r in rows.values() for f in r["files"] if f["present"])
    assert doc["shared"][0]["ok"] is True
    aqua = rows["aqua"]
    if not (REAL / "raw/aqua/train.json").is_file():
        assert aqua["distillable"] is False and aqua["missing"] == ["raw/aqua/train.json"]
        assert "evaluable, not distillable" in aqua["note"] and "ftcot data fetch aqua" in aqua["note"]
    code, out, _ = run_cli(capsys, "--data-dir", str(REAL), "data", "status")
    assert code == 0 and "aqua" in out


# -- data split / show ----------------------------------------------------------------------------


def test_split_json(capsys, store_path):
    code, out, _ = run_cli(capsys, "--data-dir", str(FIXTURES), "data", "split", "multiarith", "--split",
                           "template", "--json")
    assert code == 0
    assert json.loads(out) == {"task": "multiarith", "split": "template", "train": [0], "test": [1, 2]}


def test_split_of_a_generated_task(capsys, store_path):
    code, out, _ = run_cli(capsys, "data", "split", "coin_flip:train=3,test=2", "--json")
    doc = json.loads(out)
    assert doc["train"] == [0, 1, 2] and doc["test"] == [3, 4]


def test_show_json(capsys, store_path):
    code, out, _ = run_cli(capsys, "--data-dir", str(FIXTURES), "data", "show", "aqua", "97467", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["sample_index"] == 97467 and doc["answer"] == "B"
    assert doc["question"].endswith("Answer choices: (A) 4, (B) 6, (C) 8, (D) 10, (E) 12.")
    assert doc["choices"] == ["4", "6", "8", "10", "12"]
    code, out, _ = run_cli(capsys, "--data-dir", str(FIXTURES), "data", "show", "svamp", "2", "--json")
    doc = json.loads(out)
    assert doc["answer"] == "4.0" and "choices" not in doc


def test_show_unknown_index_is_a_one_line_error(capsys, store_path):
    code, _, err = run_cli(capsys, "--data-dir", str(FIXTURES), "data", "show", "svamp", "9")
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 1 and len(errors) == 1 and "sample_index 9" in errors[0]
    # the fixture mirror is not the paper's file: its use is flagged, once
    assert [line for line in err.splitlines() if not line.startswith("error: ")] == [
        line for line in err.splitlines() if line.startswith("warning: task svamp:")]


def test_missing_data_is_a_one_line_error(capsys, store_path, tmp_path):
    code, _, err = run_cli(capsys, "--data-dir", str(tmp_path), "data", "show", "gsm8k", "0")
    assert code == 1 and err.count("\n") == 1
    assert "gsm8k" in err and str(tmp_path / "raw" / "gsm8k") in err and "ftcot data fetch gsm8k" in err


# -- score ----------------------------------------------------------------------------------------


def test_score_writes_prediction_and_correct(capsys, store_path, monkeypatch):
    lines = "\n".join(json.dumps(r) for r in [
        {"sample_index": 0, "text": "In August (F)"},
        {"sample_index": 1, "text": "It is B. The answer is (B).", "id": "x"},
    ]) + "\n"
    code, out, _ = run_cli(capsys, "--data-dir", str(FIXTURES), "score", "date_understanding", "--mode",
                           "direct", "--json", stdin=lines, monkeypatch=monkeypatch)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0] == {"sample_index": 0, "text": "In August (F)", "prediction": "A", "correct": False,
                       "scoring": "paper"}
    assert rows[1]["prediction"] == "B" and rows[1]["correct"] is True and rows[1]["id"] == "x"
    code, out, _ = run_cli(capsys, "--data-dir", str(FIXTURES), "score", "date_understanding", "--mode",
                           "direct", "--scoring", "strict", "--json", stdin=lines, monkeypatch=monkeypatch)
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["prediction"] == "F" and rows[0]["correct"] is True and rows[0]["scoring"] == "strict"


def test_score_uses_the_global_scoring_option_and_prints_accuracy(capsys, store_path, monkeypatch):
    lines = json.dumps({"sample_index": 0, "text": "reasoning... --> YES!"}) + "\n"
    code, out, _ = run_cli(capsys, "--data-dir", str(FIXTURES), "--scoring", "strict", "score", "coin_flip",
                           "--mode", "ft-cot", stdin=lines, monkeypatch=monkeypatch)
    assert code == 0 and "1/1 correct" in out and "strict" in out
    code, out, _ = run_cli(capsys, "--data-dir", str(FIXTURES), "score", "coin_flip",
                           "--mode", "ft-cot", stdin=lines, monkeypatch=monkeypatch)
    assert "0/1 correct" in out and "paper" in out


def test_score_rejects_a_bad_line(capsys, store_path, monkeypatch):
    code, _, err = run_cli(capsys, "--data-dir", str(FIXTURES), "score", "coin_flip", "--mode", "direct",
                           stdin='{"sample_index": 0}\n', monkeypatch=monkeypatch)
    assert code == 1 and "stdin line 1" in err


def test_score_needs_a_known_mode(capsys, store_path):
    with pytest.raises(SystemExit) as exc:
        main(["score", "coin_flip", "--mode", "zero-shot"])
    assert exc.value.code == 2


# -- data import ----------------------------------------------------------------------------------


def test_import_refuses_files_that_are_not_the_papers(capsys, store_path, tmp_path):
    dest = tmp_path / "data"
    code, out, err = run_cli(capsys, "--data-dir", str(dest), "data", "import", str(FIXTURES / "raw"), "svamp",
                             "--json")
    assert code == 1 and "not installed" in err
    files = {f["file"]: f["status"] for f in json.loads(out)["files"]}
    assert files["raw/svamp/SVAMP.json"] == "mismatch"
    assert not (dest / "raw/svamp/SVAMP.json").exists()


def test_import_of_an_empty_directory(capsys, store_path, tmp_path):
    (tmp_path / "mirror").mkdir()
    code, _, err = run_cli(capsys, "--data-dir", str(tmp_path / "data"), "data", "import", str(tmp_path / "mirror"))
    assert code == 1 and "no data file found" in err


@needs_real
def test_import_copies_and_verifies_a_mirror(capsys, store_path, tmp_path):
    dest = tmp_path / "data"
    code, out, _ = run_cli(capsys, "--data-dir", str(dest), "data", "import", str(REAL / "raw"),
                           "coin_flip", "multiarith", "--json")
    assert code == 0
    files = {f["file"]: f["status"] for f in json.loads(out)["files"]}
    assert files["raw/coin_flip/coin_flip.json"] == "installed"
    assert files["splits/multiarith__template.json"] == "installed"
    assert files["few_shot_cot_prompts.json"] == "installed"
    assert (dest / "raw/multiarith/MultiArith.json").read_bytes() == (REAL / "raw/multiarith/MultiArith.json").read_bytes()
    code, out, _ = run_cli(capsys, "--data-dir", str(dest), "data", "status", "coin_flip", "multiarith", "--json")
    assert all(r["ok"] and r["distillable"] for r in json.loads(out)["tasks"])
    code, out, _ = run_cli(capsys, "--data-dir", str(dest), "data", "import", str(REAL / "raw"), "coin_flip", "--json")
    assert {f["status"] for f in json.loads(out)["files"]} == {"present"}


# -- data fetch -----------------------------------------------------------------------------------


class _Server:
    """A real HTTP server on 127.0.0.1 serving ``routes`` (URL path -> bytes); 404 otherwise."""

    def __init__(self, routes: dict[str, bytes]):
        self.routes = routes
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _path_of(url: str) -> str:
    assert url.startswith(catalog.GITHUB)
    return url[len(catalog.GITHUB):]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def _fixture_task() -> type[CoinFlip]:
    """Coin flip whose declared checksums are those of the fixture files."""
    raw = (FIXTURES / "raw/coin_flip/coin_flip.json").read_bytes()
    split = (FIXTURES / "splits/coin_flip__default.json").read_bytes()

    class FixtureCoinFlip(CoinFlip):
        files = (RawFile("coin_flip.json", 3, hashlib.sha256(raw).hexdigest(),
                         f"{catalog.GITHUB}/example/fixtures/raw/coin_flip/coin_flip.json"),)
        split_sha256 = {"default": hashlib.sha256(split).hexdigest()}
        split_url = f"{catalog.GITHUB}/example/fixtures/splits"

    return FixtureCoinFlip


def test_fetch_downloads_and_verifies(tmp_path):
    task = _fixture_task()
    routes = {_path_of(f.url): (FIXTURES / f.relpath).read_bytes() for f in catalog.files_of(task)}
    dest = tmp_path / "data"
    with _Server(routes) as server:
        outcomes = catalog.fetch(dest, [task], base=server.url, prompts=False)
        assert [o.status for o in outcomes] == ["installed", "installed"]
        assert sorted(server.requests) == sorted(routes)
        again = catalog.fetch(dest, [task], base=server.url, prompts=False)
        assert [o.status for o in again] == ["present", "present"]
        assert len(server.requests) == len(routes)  # nothing downloaded twice
    loaded = task(data_dir=dest)
    assert [e.answer for e in loaded.examples()] == ["yes", "no", "yes"]


def test_fetch_rejects_a_wrong_checksum_and_reports_404(tmp_path):
    task = _fixture_task()
    files = catalog.files_of(task)
    routes = {_path_of(files[0].url): b'{"examples": []}'}  # wrong content; the split file is absent
    dest = tmp_path / "data"
    with _Server(routes) as server:
        outcomes = catalog.fetch(dest, [task], base=server.url, prompts=False)
    assert [o.status for o in outcomes] == ["mismatch", "failed"]
    assert "HTTP 404" in outcomes[1].detail
    assert not (dest / files[0].relpath).exists()


def test_fetch_command_uses_the_base_url_and_fails_on_mismatch(capsys, store_path, tmp_path):
    files = catalog.wanted_files(catalog.select(["coin_flip"]))
    routes = {_path_of(f.url): (FIXTURES / f.relpath).read_bytes() for f in files}  # fixtures, not the paper's
    dest = tmp_path / "data"
    with _Server(routes) as server:
        code, out, err = run_cli(capsys, "--data-dir", str(dest), "data", "fetch", "coin_flip", "--base-url",
                                 server.url, "--json")
    assert code == 1 and "not installed" in err
    assert {f["status"] for f in json.loads(out)["files"]} == {"mismatch"}
    assert not dest.exists() or not any(dest.rglob("*.json"))


@needs_real
def test_fetch_command_installs_the_papers_files(capsys, store_path, tmp_path, monkeypatch):
    tasks = catalog.select(["coin_flip", "aqua"])
    files = catalog.wanted_files(tasks)
    routes = {_path_of(f.url): (REAL / f.relpath).read_bytes() for f in files if (REAL / f.relpath).is_file()}
    dest = tmp_path / "data"
    with _Server(routes) as server:
        monkeypatch.setenv("FTCOT_DATA_URL", server.url)
        code, out, _ = run_cli(capsys, "--data-dir", str(dest), "data", "fetch", "coin_flip", "aqua", "--json")
    assert code == 0
    status = {f["file"]: f["status"] for f in json.loads(out)["files"]}
    assert status["raw/coin_flip/coin_flip.json"] == "installed"
    assert status["raw/aqua/test.json"] == "installed"
    if not (REAL / "raw/aqua/train.json").is_file():
        assert status["raw/aqua/train.json"] == "missing"  # optional: AQUA stays evaluable
    shutil.rmtree(dest / "raw" / "coin_flip")
    code, _, err = run_cli(capsys, "--data-dir", str(dest), "data", "show", "coin_flip", "0")
    assert code == 1 and "ftcot data fetch coin_flip" in err
