"""The paper's four claims, judged on leaderboards built from stored-style cells."""

from __future__ import annotations

from ftcot.claims import check
from ftcot.leaderboard import build
from ftcot.records import CellResult

TASK = "coin_flip:flips=4,train=8,test=4,seed=0"
TEACHER = "oracle:error=0.3"
SIZES = {"small": 100_000, "large": 400_000}


def cell(student: str, method: str, accuracy: float, degree: int = 1, seed: int = 0) -> CellResult:
    return CellResult(task=TASK, teacher=TEACHER if method == "fine-tune-cot" else "none", student=student,
                      method=method, degree=degree, seed=seed, accuracy=accuracy, n=150, scoring="paper",
                      status="done", extra={"parameters": SIZES[student]})


def grid(small_d8: float, large_d8: float, large_d1: float = 0.5) -> list[CellResult]:
    cells = []
    for seed in (0, 1):
        cells += [cell("small", "fine-tune", 0.5, seed=seed), cell("large", "fine-tune", 0.45, seed=seed),
                  cell("small", "fine-tune-cot", 0.5, seed=seed), cell("large", "fine-tune-cot", large_d1, seed=seed),
                  cell("small", "fine-tune-cot", small_d8, 8, seed), cell("large", "fine-tune-cot", large_d8, 8, seed)]
    return cells


def verdicts(cells: list[CellResult], student_order: list[str] | None = None) -> dict[str, bool]:
    board = build(cells, {(TASK, TEACHER): (0.7, 150)}, student_order=student_order)
    return {claim.name: claim.shown for claim in check(board)}


def test_a_grid_like_the_demos_shows_all_four_claims() -> None:
    assert verdicts(grid(small_d8=0.5, large_d8=1.0)) == {
        "reasoning": True, "diversity": True, "teacher": True, "size": True}


def test_sizes_come_from_parameter_counts_not_the_configs_order() -> None:
    # a matrix's leaderboard keeps its config's order: largest first here
    assert verdicts(grid(small_d8=0.5, large_d8=1.0), student_order=["large", "small"])["size"] is True
    assert verdicts(grid(small_d8=1.0, large_d8=0.5), student_order=["large", "small"])["size"] is False


def test_each_claim_fails_below_its_threshold() -> None:
    shown = verdicts(grid(small_d8=0.5, large_d8=0.74))
    # +29 points over vanilla is short of 30; 74% beats the 70% teacher by 4, short of 5
    assert shown["reasoning"] is False and shown["teacher"] is False and shown["diversity"] is True
    # D = 8 six points worse than D = 1 for one student: not shown, despite +50 for the other
    assert verdicts(grid(small_d8=0.44, large_d8=1.0))["diversity"] is False

def test_one_seed_or_one_size_does_not_show_the_size_claim() -> None:
    one_seed = [c for c in grid(small_d8=0.5, large_d8=1.0) if c.seed == 0]
    assert verdicts(one_seed)["size"] is False
    one_size = [c for c in grid(small_d8=0.5, large_d8=1.0) if c.student == "large"]
    assert verdicts(one_size)["size"] is False
