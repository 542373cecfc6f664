"""ftcot.tables: the layout of a table on a terminal and off one, and the short names of specs."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.table import Table

from ftcot.tables import legend, money, number_column, print_table, short_names, short_spec, table_text, text_column

LONG_PATH = "replay:/data/runs/2026-12-04/paper-completions/{task}.json"


def costs_table() -> Table:
    table = Table(title="teacher completions for the cells to do", caption="litellm = litellm:gpt-4o-mini")
    text_column(table, "task")
    text_column(table, "teacher")
    for column in ("calls", "tokens in", "cost"):
        number_column(table, column)
    table.add_row("tracking_shuffled_objects", "litellm:text-completion-openai/gpt-3.5-turbo-instruct",
                  "26,880", "4,832,940", "$15.85")
    table.add_row("last_letter_concatenation", "replay", "0", "0", "$0.0012")
    return table


def terminal(width: int) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=width, color_system=None), buffer


NUMBERS = ("26,880", "4,832,940", "$15.85", "$0.0012")


def test_off_a_terminal_a_table_keeps_its_natural_width_whatever_the_console_width() -> None:
    texts = []
    for width in (40, 80, None):
        buffer = io.StringIO()
        print_table(Console(file=buffer, width=width, color_system=None, soft_wrap=True), costs_table())
        texts.append(buffer.getvalue())
    assert texts[0] == texts[1] == texts[2] == table_text(costs_table())
    assert "…" not in texts[0]
    assert all(n in texts[0] for n in NUMBERS)
    assert "litellm:text-completion-openai/gpt-3.5-turbo-instruct" in texts[0]  # on one line
    assert texts[0].rstrip().splitlines()[-1] == "litellm = litellm:gpt-4o-mini"  # the caption, a line of its own


def test_a_terminal_folds_text_columns_and_never_numeric_ones() -> None:
    console, buffer = terminal(80)
    print_table(console, costs_table())
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert all(n in text for n in NUMBERS)
    assert "litellm:text-completion-openai/gpt-3.5-turbo-instruct" not in text  # folded over lines
    assert "…" not in text


def test_a_terminal_too_narrow_for_the_numbers_gets_one_record_per_row() -> None:
    console, buffer = terminal(40)
    print_table(console, costs_table())
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 40
    flat = re.sub(r"\s+", " ", text)
    assert "task tracking_shuffled_objects · teacher" in flat
    assert "calls 26,880 · tokens in 4,832,940 · cost $15.85" in flat
    assert all(n in text.split() for n in NUMBERS)  # each number a whole word, wrapped between words


@pytest.mark.parametrize("spec, short", [
    (LONG_PATH, "replay:{task}.json"),
    ("replay:./completions/coin_flip.json,match=question", "replay:coin_flip.json,match=question"),
    ("litellm:openai/my-model,api_base=http://10.0.0.7:8000/v1", "litellm:openai/my-model,api_base=10.0.0.7:8000"),
    ("hf:google/flan-t5-small", "hf:google/flan-t5-small"),  # a model id, not a path
    ("oracle", "oracle"),
])
def test_short_spec_cuts_paths_to_the_file_name_and_urls_to_the_host(spec: str, short: str) -> None:
    assert short_spec(spec) == short


def test_short_names_are_unique_and_the_legend_reverses_them() -> None:
    other = "replay:/elsewhere/old/{task}.json"
    names = short_names([LONG_PATH, "litellm:gpt-4o-mini", "oracle", "replay:/a/b/coin.json"])
    assert names == {LONG_PATH: "replay:{task}.json", "litellm:gpt-4o-mini": "litellm", "oracle": "oracle",
                     "replay:/a/b/coin.json": "replay:coin.json"}
    # two specs that shorten alike keep their whole spec
    assert short_names([LONG_PATH, other]) == {LONG_PATH: LONG_PATH, other: other}
    lines = legend(names)
    assert lines == [f"replay:{{task}}.json = {LONG_PATH}", "litellm = litellm:gpt-4o-mini",
                     "replay:coin.json = replay:/a/b/coin.json"]
    assert {line.split(" = ")[0]: line.split(" = ")[1] for line in lines} == {
        short: full for full, short in names.items() if short != full}


def test_money_never_rounds_a_cost_to_zero() -> None:
    assert [money(x) for x in (0.0, 0.00123, 0.5, 15.849, 1234.5, None)] == [
        "$0.00", "$0.0012", "$0.5000", "$15.85", "$1,234.50", "n/a"]


def test_a_matrix_run_off_a_terminal_prints_every_cell_whole_once_at_the_end() -> None:
    from ftcot.matrix.view import MAX_ROWS, MatrixView

    buffer = io.StringIO()
    console = Console(file=buffer, width=40, color_system=None, soft_wrap=True)
    labels = {f"k{i}": f"coin_flip:flips=2,train=6,test=3 · tiny-llama:dim=64 · Fine-tune-CoT D=8 ({LONG_PATH}) · "
                       f"seed {i}" for i in range(MAX_ROWS + 2)}
    with MatrixView(console, labels, 0, "matrix") as view:
        view.update("k0", "preparing")
        view.update("k0", "done", "accuracy 0.8333 (n=1234)")
        assert buffer.getvalue() == ""  # no live frames in a pipe
    text = buffer.getvalue()
    assert all(label in text for label in labels.values())
    assert "accuracy 0.8333 (n=1234)" in text and "…" not in text
    assert text.splitlines()[0].startswith("matrix  1/26 cells  1 done")
