"""The HTML leaderboard, rendered by a real browser (headless Chromium): the page is
self-contained and shows the table, the best cells and the three plots.

Needs the ``chromium`` binary (Debian/Ubuntu: ``apt-get install chromium``); skipped without it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_leaderboard import CELLS

from ftcot.store import Store

CHROMIUM = next((p for p in (os.environ.get("FTCOT_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser"), shutil.which("google-chrome")) if p), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


class Dom(HTMLParser):
    """The rendered DOM: elements as (tag, attributes, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[int] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict((k, v or "") for k, v in attrs), []))
        if tag not in ("circle", "rect", "line", "polyline", "meta", "br"):
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag):
        while self._open:
            index = self._open.pop()
            if self.elements[index][0] == tag:
                break

    def handle_data(self, data):
        for index in self._open:
            self.elements[index][2].append(data)

    def find(self, tag: str, **attrs: str) -> list[tuple[str, dict[str, str], str]]:
        return [(t, a, "".join(text)) for t, a, text in self.elements
                if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]


@pytest.fixture
def report(store_path: Path, tmp_path: Path) -> Path:
    store = Store(store_path)
    for i, c in enumerate(CELLS):
        store.put_cell(f"cell-{i}", c)
    store.close()
    out = tmp_path / "report" / "leaderboard.html"
    result = subprocess.run([sys.executable, "-m", "ftcot.cli", "leaderboard", "--format", "html",
                             "--output", str(out), "--show-n"], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "FTCOT_STORE": str(store_path)})
    assert result.returncode == 0, result.stderr
    return out


def test_page_needs_nothing_from_the_network(report: Path) -> None:
    html = report.read_text()
    assert not re.search(r"""(src|href)\s*=|url\(|@import|<script|<link""", html, re.IGNORECASE)
    assert html.count("<svg") == 3


@needs_chromium
def test_chromium_renders_table_and_plots(report: Path, tmp_path: Path) -> None:
    result = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Dom()
    dom.feed(result.stdout)

    meta = dom.find("p", id="meta")
    assert meta and "scoring: paper" in meta[0][2] and "reported epoch: last" in meta[0][2]
    rows = [r for r in dom.elements if r[0] == "tr" and r[1].get("class") == "student"]
    assert len(rows) == 5  # tiny-llama x {FT, FT-CoT D=1, D=4}, tiny-gpt2 x {zero-shot, FT-CoT D=1}
    headers = [text for _, _, text in dom.find("th")]
    assert headers == ["student", "method", "coin_flip", "last_letter_concatenation", "mean"]
    best = [text for _, a, text in dom.find("td") if "best" in a.get("class", "").split()]
    assert best == ["100.0 (n=4)", "75.0", "75.0 (n=4)", "75.0"]  # coin, mean of D=1; letters, mean of D=4
    assert any("75.0 ± 14.4" in text for _, _, text in dom.find("td"))

    charts = {a["id"]: a for _, a, _ in dom.find("svg")}
    assert set(charts) == {"chart-size", "chart-degree", "chart-teacher"}
    polylines = [a for _, a, _ in dom.find("polyline")]
    series = {a["data-series"] for a in polylines}
    assert "Fine-tune-CoT D=1 (oracle)" in series  # accuracy vs student size, per method
    assert {"tiny-llama · coin_flip (oracle)", "tiny-llama · last_letter_concatenation (oracle)"} <= series
    assert len(dom.find("rect", **{"class": "bar"})) >= 2 * 2  # teacher vs students, two tasks

    shot = tmp_path / "page.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1200", report.as_uri())
    assert shot.is_file() and shot.stat().st_size > 20_000, result.stderr[-2000:]


def test_the_page_says_which_of_the_papers_claims_the_leaderboard_shows(report: Path) -> None:
    dom = Dom()
    dom.feed(report.read_text())
    verdicts = {a["data-claim"]: (a["class"], text) for _, a, text in dom.find("li") if "data-claim" in a}
    assert {name: klass for name, (klass, _) in verdicts.items()} == {
        "reasoning": "shown", "diversity": "not-shown", "teacher": "not-shown", "size": "not-shown"}
    # letters: Fine-tune-CoT D=4 75.0 against vanilla 25.0; coin: D=4 25 points below D=1
    assert "+50.0 points (last_letter_concatenation, tiny-llama" in verdicts["reasoning"][1]
    assert "worst -25.0 points (coin_flip, tiny-llama)" in verdicts["diversity"][1]


def test_a_leaderboard_without_fine_tune_cot_has_no_claims_section(store_path: Path, tmp_path: Path) -> None:
    from test_leaderboard import COIN, cell

    from ftcot.leaderboard import build
    from ftcot.registry import create_reporter

    page = create_reporter("html").render(build([cell(COIN, "tiny-llama", "fine-tune", 0.5)]))
    assert "<h2>Plots</h2>" in page and 'id="claims"' not in page
