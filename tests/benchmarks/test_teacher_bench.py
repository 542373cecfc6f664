"""Teacher throughput against the local OpenAI-compatible server (tests/openai_server.py, in a
child process, so the client has this interpreter to itself as with a remote server).

- harness overhead: completions/s of ``teach`` with ``litellm:hosted_vllm/...`` at concurrency 64
  vs bare ``litellm.acompletion`` calls doing the same two steps at the same concurrency, on a
  server that answers at once (goal >= 0.9);
- latency-bound efficiency: the server adds 500 ms to every answer; completions/s at concurrency
  64 vs the ideal, 64 completions per (2 steps x 0.5 s) (goal >= 0.9; as requests/s it is the
  same ratio against 64/0.5 s);
- a fully cached re-run: completions/s of ``teach`` when the store holds every completion
  (goal >= 20,000/s);
- teacher phase: four groups at once (one budget of 64) vs one after another, server answering
  in 0.2 s (goal: at least 3x faster);
- n-sampling: completions/s at D=8 (one step-1 request with ``n=8`` per question) vs D=1, same
  64 questions at concurrency 16, server answering in 0.2 s (goal >= 3).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial

from openai_server import ServerProcess

from ftcot import registry as plugins
from ftcot.contracts.teacher import Generation
from ftcot.pipeline.scorer import Scorer
from ftcot.pipeline.teach import create_teacher, teach
from ftcot.store import Store

MODEL = "hosted_vllm/bench-model"
CONCURRENCY = 64


def _task(tmp_path, train: int):
    return plugins.create_task(f"coin_flip:flips=3,train={train},test=2", data_dir=tmp_path)


async def _bare(url: str, questions: list[str]) -> None:
    """The baseline: the same two steps per completion with litellm alone, 64 in flight."""
    import litellm

    litellm.disable_aiohttp_transport = True
    gate = asyncio.Semaphore(CONCURRENCY)
    common = dict(model=MODEL, api_base=url, max_retries=0, timeout=60, temperature=0.0, drop_params=True)

    async def one(question: str) -> None:
        async with gate:
            prompt = f"Q: {question}\nA: Let's think step by step."
            first = await litellm.acompletion(messages=[{"role": "user", "content": prompt}], max_tokens=128, **common)
            rationale = first.choices[0].message.content
            await litellm.acompletion(messages=[
                {"role": "user", "content": prompt}, {"role": "assistant", "content": rationale.strip()},
                {"role": "user", "content": "Therefore, the answer is"}], max_tokens=32, **common)

    await asyncio.gather(*(one(q) for q in questions))


def _teach(tmp_path, task, url: str, round_no: int):
    store = Store(tmp_path / f"round{round_no}-{time.monotonic_ns()}.db")
    result = teach(store, task, f"litellm:{MODEL}", task.train_examples(),
                   options={"api_base": url, "concurrency": CONCURRENCY}, progress=False)
    assert result.new == len(task.train_examples()) and result.failed == 0
    return result


def test_harness_overhead_vs_bare_litellm(benchmark, tmp_path):
    n = 240
    task = _task(tmp_path, n)
    questions = [e.question for e in task.train_examples()]
    with ServerProcess() as server:
        asyncio.run(_bare(server.url, questions[:16]))  # warm both paths up
        _teach(tmp_path, _task(tmp_path, 16), server.url, -1)
        bare, ours = [], []
        for r in range(3):  # interleaved, so load changes hit both alike
            start = time.perf_counter()
            asyncio.run(_bare(server.url, questions))
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            _teach(tmp_path, task, server.url, r)
            ours.append(time.perf_counter() - start)
        benchmark.pedantic(lambda: _teach(tmp_path, task, server.url, 99), rounds=1, iterations=1)
    bare_rate, our_rate = n / min(bare), n / min(ours)
    benchmark.extra_info.update({
        "figure": "litellm teacher completions/s vs bare litellm.acompletion (concurrency 64)",
        "value": our_rate, "unit": "completions/s", "baseline": bare_rate,
        "baseline_label": "bare litellm.acompletion, same two steps", "ratio": our_rate / bare_rate,
        "goal": "ratio >= 0.9",
    })
    assert our_rate / bare_rate > 0.5


def test_latency_bound_efficiency(benchmark, tmp_path):
    delay, n = 0.5, 256
    task = _task(tmp_path, n)
    with ServerProcess(delay=delay) as server:
        _teach(tmp_path, _task(tmp_path, 4), server.url, -1)
        seconds = []

        def once():
            start = time.perf_counter()
            _teach(tmp_path, task, server.url, len(seconds))
            seconds.append(time.perf_counter() - start)

        benchmark.pedantic(once, rounds=2, iterations=1)
        # context: what litellm alone reaches here (the client's CPU can be the limit, not the harness)
        questions = [e.question for e in task.train_examples()]
        start = time.perf_counter()
        asyncio.run(_bare(server.url, questions))
        bare_rate = n / (time.perf_counter() - start)
    rate = n / min(seconds)
    ideal = CONCURRENCY / (2 * delay)
    benchmark.extra_info.update({
        "figure": "completions/s at concurrency 64, server answering in 0.5 s",
        "value": rate, "unit": "completions/s", "baseline": ideal,
        "baseline_label": "ideal: 64 in flight / (2 steps x 0.5 s)", "ratio": rate / ideal,
        "goal": "ratio >= 0.9", "requests_per_s": 2 * rate, "bare_litellm_completions_per_s": bare_rate,
    })
    assert rate > 0.7 * bare_rate  # the harness is not what limits it


def test_fully_cached_rerun(benchmark, tmp_path):
    train, degree = 10_000, 2
    task = _task(tmp_path, train)
    examples = task.train_examples()
    store = Store(tmp_path / "cached.db")
    teacher = create_teacher(f"litellm:{MODEL}", {"api_base": "http://127.0.0.1:9/v1"})
    generation = Generation(temperature=0.7)
    teacher.prepare(task, generation)
    jobs = teacher.plan(task, examples, degree, generation)
    scorer = Scorer(task, "paper")  # stored as a first run stores them: scored by the task
    store.put_completions(
        (job.key, scorer.label(job.example, job.blank(
            teacher.label, generation, rationale=f" Three flips in all, so {job.example.answer} it is.",
            answer_prompt="", answer_text=f" {job.example.answer}.", prompt_tokens=60, completion_tokens=9)))
        for job in jobs)
    n = len(jobs)

    def rerun():
        result = teach(store, task, teacher, examples, degree=degree, progress=False)
        assert result.cached == n and result.new == 0
        return result

    rerun()  # warm up
    benchmark.pedantic(rerun, rounds=3, iterations=1)
    seconds = benchmark.stats.stats.min if getattr(benchmark, "stats", None) else None
    if seconds is None:
        start = time.perf_counter()
        rerun()
        seconds = time.perf_counter() - start
    rate = n / seconds
    benchmark.extra_info.update({
        "figure": "fully cached re-run of 20,000 completions", "value": rate, "unit": "completions/s",
        "goal": "value >= 20000",
    })
    assert rate > 2_000


def test_degree_8_in_one_request_per_question(benchmark, figure, tmp_path):
    """Completions/s at D=8 (step 1: one request with n=8 per question) vs D=1, same questions and
    concurrency, server answering in 0.2 s."""
    delay, questions, concurrency = 0.2, 64, 16
    task = _task(tmp_path, questions)
    examples = task.train_examples()
    rates: dict[int, list[float]] = {1: [], 8: []}

    def once(degree: int, url: str) -> None:
        store = Store(tmp_path / f"d{degree}-{len(rates[degree])}.db")
        start = time.perf_counter()
        result = teach(store, task, f"litellm:{MODEL}", examples, degree=degree, temperature=0.7,
                       options={"api_base": url, "concurrency": concurrency}, progress=False)
        seconds = time.perf_counter() - start
        assert result.new == questions * degree and result.failed == 0
        rates[degree].append(result.new / seconds)

    with ServerProcess(delay=delay) as server:
        _teach(tmp_path, _task(tmp_path, 4), server.url, -1)  # warm up
        for _ in range(2):
            once(1, server.url)
        benchmark.pedantic(lambda: once(8, server.url), rounds=2, iterations=1)
    one, eight = max(rates[1]), max(rates[8])
    figure("completions/s at D=8 (n=8 per step-1 request) vs D=1, server answering in 0.2 s", eight,
           "completions/s", baseline=one, baseline_label="D=1, same 64 questions, concurrency 16",
           goal="ratio >= 3")
    assert eight / one >= 3


def test_teacher_phase_runs_groups_at_once(benchmark, figure, tmp_path):
    """A four-group matrix's teacher phase vs the same groups one after another, server answering
    in 0.2 s: 4 tasks x 1 teacher, 16 questions each, D=1, one provider budget of 64 in flight.

    A group alone keeps at most its 16 questions in flight, so it cannot fill the budget; four at
    once can (64). Both sides run the same groups through ``TeacherPhase``. The ideal is 4x, but
    the client's CPU bounds it: every request costs litellm some milliseconds of one core (all
    requests go out from one event loop), so 64 in flight cannot answer 4x as fast as 16. The
    same ratio for bare ``litellm.acompletion`` (the same questions, 16 at a time vs 64 at once,
    on the same loop) is measured in the same run as that ceiling; the phase must reach most of it.
    """
    from ftcot.event_loop import run_coroutine
    from ftcot.matrix import Matrix, load_config
    from ftcot.matrix.teacher_phase import TeacherPhase, phase_groups

    tasks = [f"coin_flip:flips=3,train=16,test=2,seed={seed}" for seed in range(4)]
    questions = [[e.question for e in plugins.create_task(t, data_dir=tmp_path).train_examples()]
                 for t in tasks]
    with ServerProcess(delay=0.2) as server:
        def fresh(name: str) -> Matrix:
            config = tmp_path / f"{name}.toml"
            config.write_text(
                f'teachers = ["litellm:{MODEL}"]\nstudents = ["tiny-llama"]\nmethods = ["fine-tune-cot"]\n'
                f'store = "{name}/ftcot.db"\n[teacher]\napi_base = "{server.url}"\nconcurrency = 64\n'
                + "".join(f'[tasks."{t}"]\n' for t in tasks))
            return Matrix.open(load_config(config), data_dir=tmp_path)

        def run(phases: list[list]) -> None:
            for groups, m in phases:
                phase = TeacherPhase(groups, m.store, m.data_dir, m.scoring).start()
                while not phase.finished:
                    phase.wait(5)
                phase.close()
                assert phase.errors == {}

        def timed(fn: Callable[[], object]) -> tuple[float, float]:
            """Wall and process CPU seconds of ``fn()``."""
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            return time.perf_counter() - wall, time.process_time() - cpu

        _teach(tmp_path, _task(tmp_path, 4), server.url, -1)  # warm up
        sequential, together, bare_sequential, bare_together, cpu = [], [], [], [], []
        for r in range(2):
            m = fresh(f"seq{r}")
            groups = phase_groups(m.cells())
            assert len(groups) == 4
            sequential.append(timed(partial(run, [([g], m) for g in groups]))[0])  # one group after another
            bare_sequential.append(timed(lambda: [run_coroutine(_bare(server.url, q)) for q in questions])[0])
            bare_together.append(timed(lambda: run_coroutine(_bare(server.url, sum(questions, []))))[0])

        def once() -> None:
            m = fresh(f"phase{len(together)}")
            wall, seconds = timed(lambda: run([(phase_groups(m.cells()), m)]))
            together.append(wall)
            cpu.append(seconds)

        benchmark.pedantic(once, rounds=2, iterations=1)
    speedup = min(sequential) / min(together)
    ceiling = min(bare_sequential) / min(bare_together)
    requests = 2 * sum(map(len, questions))
    figure("four-group teacher phase: groups at once vs one after another (server answering in 0.2 s)",
           min(together), "s", baseline=min(sequential), baseline_label="the four groups one after another",
           goal="ratio <= 0.34", speedup=speedup, bare_litellm_speedup=ceiling,
           client_cpu_ms_per_request=1000 * min(cpu) / requests)
    assert speedup >= 0.8 * ceiling  # the harness is not what limits it; the client's CPU is
