"""Plugin discovery through the ``ftcot`` entry-point group, as a third-party package sees it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftcot import hookspecs
from ftcot.errors import UserError
from ftcot.registry import KINDS, split_spec
from ftcot.testing import install_package as write_plugin_package

GOOD = """
    from ftcot.api import GeneratedTask, Param, Teacher, hookimpl

    class WordCount(GeneratedTask):
        name = "word_count"
        description = "Counts words."
        answer_type = "number"
        params = (Param("train", int, 4, "training examples"), Param("test", int, 2, "test examples"))

        def _generate(self, rng):
            n = rng.randint(1, 9)
            return " ".join(["word"] * n) + str(rng.random()), str(n), None, {}

    class EchoTeacher(Teacher):
        name = "echo"

        def run(self, jobs, sink, generation):
            for job in jobs:
                sink.emit(job, job.blank(self.label, generation, rationale=job.example.question))

    @hookimpl
    def ftcot_register_tasks(register):
        register(WordCount)

    @hookimpl
    def ftcot_register_teachers(register):
        register(EchoTeacher)
"""


def run_plugins(path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(path)}
    env.pop("FTCOT_LOAD_PLUGINS", None)
    return subprocess.run(
        [sys.executable, "-m", "ftcot.cli", "plugins", "--json", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )


def test_third_party_plugin_is_listed(tmp_path: Path) -> None:
    write_plugin_package(tmp_path, "ftcot-wordcount", "ftcot_wordcount", GOOD)
    result = run_plugins(tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    mine = {(r["kind"], r["name"]): r for r in rows if r["package"] == "ftcot-wordcount"}
    assert set(mine) == {("task", "word_count"), ("teacher", "echo")}
    assert mine[("task", "word_count")]["version"] == "0.3.1"
    assert mine[("task", "word_count")]["description"] == "Counts words."
    assert all(r["kind"] in KINDS for r in rows)


def test_broken_plugin_warns_and_others_load(tmp_path: Path) -> None:
    write_plugin_package(tmp_path, "ftcot-wordcount", "ftcot_wordcount", GOOD)
    write_plugin_package(tmp_path, "ftcot-broken", "ftcot_broken", "import not_a_module_anywhere\n")
    result = run_plugins(tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "ftcot-broken" in warnings[0] and "not_a_module_anywhere" in warnings[0]
    names = {r["name"] for r in json.loads(result.stdout)}
    assert "word_count" in names


def test_a_duplicate_name_is_one_warning_naming_both_packages_and_the_rest_works(tmp_path: Path) -> None:
    write_plugin_package(tmp_path, "ftcot-wordcount", "ftcot_wordcount", GOOD)
    write_plugin_package(tmp_path, "ftcot-rival", "ftcot_rival", GOOD)
    result = run_plugins(tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [w for w in result.stderr.splitlines() if w.startswith("warning:")]
    assert warnings and all("ftcot-wordcount" in w and "ftcot-rival" in w and "rename it" in w for w in warnings)
    rows = json.loads(result.stdout)
    skipped = {r["package"] for r in rows if r["problem"] is not None}
    loaded = {r["package"] for r in rows if r["problem"] is None}
    assert len(skipped) == 1 and {"ftcot", *({"ftcot-wordcount", "ftcot-rival"} - skipped)} <= loaded


def test_load_plugins_env_limits_third_party(tmp_path: Path) -> None:
    write_plugin_package(tmp_path, "ftcot-wordcount", "ftcot_wordcount", GOOD)
    write_plugin_package(tmp_path, "ftcot-rival", "ftcot_rival", GOOD)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "FTCOT_LOAD_PLUGINS": "ftcot-rival"}
    result = subprocess.run([sys.executable, "-m", "ftcot.cli", "plugins", "--json"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    packages = {r["package"] for r in json.loads(result.stdout)}
    assert "ftcot-rival" in packages and "ftcot-wordcount" not in packages


def test_builtins_register_from_the_core_list_not_from_install_metadata() -> None:
    from importlib.metadata import entry_points

    from ftcot.registry import BUILTIN_MODULES, registry

    assert not [ep for ep in entry_points(group="ftcot") if ep.dist and ep.dist.name == "ftcot"]
    builtin = {(p.kind, p.name) for p in registry().all() if p.package == "ftcot"}
    assert {("task", "coin_flip"), ("teacher", "oracle"), ("student", "tiny-llama"), ("filter", "correct"),
            ("reporter", "html")} <= builtin
    packages = ("ftcot.tasks.", "ftcot.teachers.", "ftcot.students.", "ftcot.plugins.")
    assert all(p.cls.__module__.startswith(packages) for p in registry().all() if p.package == "ftcot")
    assert len(BUILTIN_MODULES) == 5


def test_every_hook_is_documented() -> None:
    hooks = [name for name in dir(hookspecs) if name.startswith("ftcot_register_")]
    assert sorted(hooks) == sorted(f"ftcot_register_{kind}s" for kind in KINDS)
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("hf:google/flan-t5-base", ("hf", "google/flan-t5-base")),
     ("replay:runs/a:b.json", ("replay", "runs/a:b.json")),
     ("oracle", ("oracle", None)),
     ("tiny-llama:", ("tiny-llama", ""))],
)
def test_split_spec(spec: str, expected: tuple) -> None:
    assert split_spec(spec) == expected


def test_split_spec_rejects_empty_name() -> None:
    with pytest.raises(UserError, match="PLUGIN"):
        split_spec(":x")


def test_unknown_plugin_is_a_user_error() -> None:
    result = subprocess.run([sys.executable, "-c",
                             "from ftcot.registry import create_teacher; create_teacher('nonesuch:x')"],
                            capture_output=True, text=True, timeout=120)
    assert "unknown teacher 'nonesuch'" in result.stderr


def test_registering_an_installed_plugin_again_in_a_test_is_harmless() -> None:
    from ftcot.registry import registry
    from ftcot.testing import registered

    cls = registry().get("task", "coin_flip").cls
    with registered(cls) as reg:  # as a test does with its own package installed
        assert reg.get("task", "coin_flip").cls is cls and not reg.warnings


def test_a_teacher_argument_with_options_parses_as_the_guide_shows() -> None:
    from ftcot.api import Param, Teacher, UserError, parse_params
    from ftcot.registry import create_teacher
    from ftcot.testing import registered

    class Prefixed(Teacher):
        name = "prefixed"
        params = (Param("prefix", str, "", "text before each rationale"), Param("tries", int, 1, "tries"))

        @classmethod
        def from_spec(cls, argument=None, **options):
            model, _, rest = (argument or "").partition(",")
            return cls(model=model, options={**options, **parse_params(rest, cls.params, f"teacher {cls.name}")})

        def run(self, jobs, sink, generation):
            pass

    with registered(Prefixed):
        teacher = create_teacher("prefixed:m1,prefix=Q,tries=3")
        assert (teacher.model, teacher.option("prefix"), teacher.option("tries")) == ("m1", "Q", 3)
        for bad, says in (("prefixed:m1,tries=x", "tries"), ("prefixed:m1,prefix=a,prefix=b", "given twice")):
            with pytest.raises(UserError, match=says):
                create_teacher(bad)


def test_a_from_spec_that_returns_no_plugin_of_its_kind_is_one_clear_error() -> None:
    from ftcot.api import Teacher
    from ftcot.registry import create_teacher
    from ftcot.testing import registered

    class Stray(Teacher):
        name = "stray"

        def run(self, jobs, sink, generation):
            raise AssertionError("never run")

        @classmethod
        def from_spec(cls, argument=None, **options):
            return "a teacher, honestly"

    with registered(Stray):
        with pytest.raises(UserError) as caught:
            create_teacher("stray:m")
    assert str(caught.value) == ("teacher 'stray': Stray.from_spec returned str, not a Teacher: "
                                 "return an instance of the class")
