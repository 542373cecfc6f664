"""A matrix's teacher phase against the local server: every (task, teacher, D) group of the cells
to run is asked at once, groups reaching one provider share its concurrency budget, and each
group's cells are ready when it is done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from openai_server import OpenAIServer, question_of

from ftcot.matrix import Matrix, load_config
from ftcot.matrix.teacher_phase import TeacherPhase, phase_groups
from ftcot.pipeline.teach import teach
from ftcot.registry import create_task

TINY = "tiny-llama:layers=1,dim=32,heads=2,ffn=64,vocab=300"
TASKS = [f"coin_flip:flips=2,train=8,test=2,seed={seed}" for seed in range(4)]


def matrix(tmp_path: Path, url: str, concurrency: int) -> Matrix:
    config = tmp_path / "m.toml"
    tasks = "\n".join(f'[tasks."{t}"]' for t in TASKS)
    config.write_text(f"""\
teachers = ["litellm:hosted_vllm/test-model"]
students = ["{TINY}"]
methods = ["fine-tune-cot"]
degrees = [2]
store = "store/ftcot.db"

[teacher]
api_base = "{url}"
concurrency = {concurrency}

{tasks}
""")
    return Matrix.open(load_config(config), data_dir=tmp_path)


def run_phase(phase: TeacherPhase) -> None:
    phase.start()
    while not phase.finished:
        phase.wait(5)
    phase.close()


def test_groups_run_at_once_within_one_budget_and_their_cells_become_ready(tmp_path):
    with OpenAIServer(delay=0.05) as server:
        m = matrix(tmp_path, server.url, concurrency=3)
        cells = m.cells()
        groups = phase_groups(cells)
        assert sorted(g.key[0] for g in groups) == sorted(TASKS) and {g.degree for g in groups} == {2}
        phase = TeacherPhase(groups, m.store, m.data_dir, m.scoring)
        assert not any(phase.ready(c.spec) for c in cells)
        run_phase(phase)
        assert phase.errors == {}
        assert all(phase.ready(c.spec) for c in cells)
        # four groups of 8 questions, one budget of 3 questions in flight for the one provider
        assert server.peak_in_flight["reasoning"] == 3
        assert server.peak_in_flight["answer"] <= 3 * 2
        assert len(server.log) == 4 * 8 * (1 + 2)  # per question: one step-1 request (n=2), two step-2 requests
        # every group started before any group finished: they ran together, not one after another
        owner = {e.question: t for t in TASKS for e in create_task(t, data_dir=m.data_dir).train_examples()}
        times: dict[str, list[float]] = {}
        for r in server.log:
            times.setdefault(owner[question_of(r.prompt)], []).append(r.time)
        assert len(times) == 4 and max(min(t) for t in times.values()) < min(max(t) for t in times.values())
        server.reset_log()
        for task_spec in TASKS:  # a cell's own teach call then finds everything stored
            task = create_task(task_spec, data_dir=m.data_dir)
            again = teach(m.store, task, "litellm:hosted_vllm/test-model", task.train_examples(), degree=2,
                          options={"api_base": server.url}, progress=False)
            assert (again.cached, again.new) == (16, 0)
        assert server.log == []


# what litellm prints when its clients or logging worker meet a second event loop
LOOP_NOISE = ("cannot reuse already awaited coroutine", "was never awaited", "never retrieved",
              "Event loop is closed", "bound to a different event loop", "destroyed but it is pending")
PHASE_SCRIPT = """
import sys
from pathlib import Path
from ftcot.matrix import Matrix, load_config
from ftcot.matrix.teacher_phase import TeacherPhase, phase_groups
m = Matrix.open(load_config(Path(sys.argv[1])), data_dir=Path(sys.argv[2]))
phase = TeacherPhase(phase_groups(m.cells()), m.store, m.data_dir, m.scoring).start()
while not phase.finished:
    phase.wait(5)
phase.close()
print(len(phase.groups), len(phase.errors))
"""


def test_a_concurrent_phase_leaves_no_event_loop_noise(tmp_path):
    """Four groups at once, in a process of their own so that what is printed at exit counts too."""
    with OpenAIServer(delay=0.02) as server:
        m = matrix(tmp_path, server.url, concurrency=8)
        config = tmp_path / "m.toml"
        done = subprocess.run([sys.executable, "-W", "default", "-c", PHASE_SCRIPT, str(config), str(m.data_dir)],
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["4", "0"]
    assert len(server.log) == 4 * 8 * 3
    assert not [line for line in done.stderr.splitlines() if any(n in line for n in LOOP_NOISE)], done.stderr


def test_matrix_plan_shows_the_teacher_phase(tmp_path):
    from ftcot.commands.matrix import teacher_phase

    m = matrix(tmp_path, "http://127.0.0.1:9/v1", concurrency=4)
    phase = teacher_phase(m.plan().teachers)
    # four groups; per question one step-1 request for both samples and two step-2 requests
    assert phase["groups"] == 4 and phase["requests"] == 4 * 8 * 3
    assert phase["tokens"] > 0 and phase["cost_usd"] is None  # a local model has no price
