"""The one loader: what a run stores to find its code again (``definition_ref``), and
loading it back (``load_definition``) for flows, workflows and scripts, within the
allow-list."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plait import Flow, Workflow, start
from plait.engine import (
    NAME_IT,
    TargetError,
    definition_ref,
    load_definition,
    load_target,
    open_store,
    resume_needs,
    stored_ref,
)
from plait.runtime import RunRecord

CODE = textwrap.dedent(
    """
    import os
    import sys

    from plait import Flow, Workflow, listen, start


    class Crashy(Flow):
        @start()
        def first(self):
            return 1

        @listen(first)
        def second(self, x):
            if os.environ.get("CRASH"):
                os._exit(9)
            return x + 1


    wf = Workflow("wf")


    @wf.task()
    def a():
        return 2


    @wf.task(depends_on=[a])
    def b(a):
        if os.environ.get("CRASH"):
            os._exit(9)
        return a * 10


    if __name__ == "__main__":
        which = Crashy() if sys.argv[2] == "flow" else wf
        if sys.argv[2] == "flow":
            which.kickoff(store=sys.argv[1])
        else:
            which.run(store=sys.argv[1])
    """
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAIT_ALLOW_PATHS", raising=False)
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def _record(ref: str, kind: str = "flow", flow: str = "Crashy") -> RunRecord:
    plan = {"format": 1, "name": flow, "kind": kind, "ref": ref}
    return RunRecord(run_id="r1", flow=flow, created_at=0.0, updated_at=0.0, plan=plan)


def _records(url: str) -> list[RunRecord]:
    async def go() -> list[RunRecord]:
        store = await open_store(url)
        try:
            return await store.list_runs()
        finally:
            await store.close()

    return asyncio.run(go())


def _crash_script(folder: Path, which: str) -> RunRecord:
    """Run ``script.py`` as ``python script.py`` until it dies mid-run; its stored run."""
    folder.mkdir(exist_ok=True)
    (folder / "script.py").write_text(CODE)
    url = f"sqlite:///{folder}/runs.db"
    done = subprocess.run(
        [sys.executable, "script.py", url, which],
        cwd=folder,
        env={**_env(), "CRASH": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 9, done.stderr
    (record,) = _records(url)
    return record


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("PLAIT_STORE", "CRASH")}


# -- what a run stores -----------------------------------------------------------------


class Here(Flow):
    @start()
    def go(self) -> int:
        return 1


here_wf = Workflow("here_wf")


@here_wf.task()
def only() -> int:
    return 1


def test_a_class_in_a_module_is_stored_as_module_and_name() -> None:
    assert definition_ref(Here()) == f"{__name__}:Here"
    assert definition_ref(Here) == f"{__name__}:Here"


def test_a_workflow_is_stored_as_the_module_attribute_that_holds_it() -> None:
    assert definition_ref(here_wf) == f"{__name__}:here_wf"


def test_what_no_name_reaches_stores_nothing() -> None:
    class Local(Flow):
        @start()
        def go(self) -> int:
            return 1

    made = Workflow("made")
    made.add(lambda: 1, name="one")
    assert definition_ref(Local()) == ""
    assert definition_ref(made) == ""


def test_a_file_loaded_by_path_is_stored_by_its_absolute_path(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "script.py").write_text(CODE)
    flow = load_target("code/script.py:Crashy")
    workflow = load_target("code/script.py:wf")
    path = (tmp_path / "code" / "script.py").resolve()
    assert definition_ref(flow) == f"{path}:Crashy"
    assert definition_ref(workflow) == f"{path}:wf"


@pytest.mark.parametrize(("which", "name"), [("flow", "Crashy"), ("workflow", "wf")])
def test_a_script_run_stores_its_file_and_loads_again_from_its_folder(
    tmp_path: Path, which: str, name: str
) -> None:
    record = _crash_script(tmp_path / "code", which)
    assert record.plan is not None
    assert record.plan["ref"] == f"{(tmp_path / 'code' / 'script.py').resolve()}:{name}"
    assert stored_ref(record) == record.plan["ref"]

    loaded: Any = load_definition(record, here=True)  # from the folder it ran in
    if which == "flow":
        assert isinstance(loaded, Flow) and type(loaded).__name__ == "Crashy"
    else:
        assert isinstance(loaded, Workflow) and loaded.name == "wf"


def test_a_stored_file_elsewhere_needs_the_allow_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _crash_script(tmp_path / "code", "flow")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(TargetError, match="not on the allow-list"):
        load_definition(record, here=True)
    assert isinstance(load_definition(record, allow=[tmp_path / "code"], here=True), Flow)


def test_the_current_folder_is_allowed_only_for_the_cli(tmp_path: Path) -> None:
    record = _crash_script(tmp_path / "code", "flow")
    with pytest.raises(TargetError, match="not on the allow-list"):
        load_definition(record)  # here=False: the library's recover() without allow=


def test_a_run_stored_by_an_older_plait_from_a_script_says_to_name_the_file() -> None:
    with pytest.raises(TargetError, match=r"python script\.py.*path/to/file\.py:Name"):
        load_definition(_record("__main__:Crashy"), here=True)


def test_a_workflow_run_without_a_reference_says_to_name_it() -> None:
    with pytest.raises(TargetError, match=r"workflow 'wf'.*plait runs resume r1 path/to"):
        load_definition(_record("", kind="workflow", flow="wf"), here=True)


def test_a_stored_workflow_reference_loads_the_workflow() -> None:
    loaded = load_definition(_record(f"{__name__}:here_wf", kind="workflow", flow="here_wf"))
    assert loaded is here_wf


def test_stored_data_cannot_name_something_that_is_not_a_flow() -> None:
    with pytest.raises(TargetError, match="not a flow"):
        load_definition(_record("builtins:exit"))


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("venv.__main__:X", "a program's entry point"),  # would build virtualenvs
        ("this:X", "standard library"),  # would print the Zen of Python
        ("antigravity:X", "standard library"),  # would open a web browser
    ],
)
def test_stored_data_cannot_import_a_module_whose_import_runs_a_program(ref: str, why: str) -> None:
    module = ref.partition(":")[0]
    assert module not in sys.modules
    with pytest.raises(TargetError, match=why):
        load_definition(_record(ref), here=True)
    assert module not in sys.modules  # refused before importing anything


def test_the_worker_loads_no_file_of_its_folder_unless_allowed(tmp_path: Path) -> None:
    record = _crash_script(tmp_path / "code", "flow")
    os.chdir(tmp_path / "code")  # _isolated restores the folder
    with pytest.raises(TargetError, match="not on the allow-list"):
        load_definition(record, here=True, files_here=False)
    assert load_definition(record, here=True, allow=[tmp_path / "code"], files_here=False)


# -- what a resume command needs -------------------------------------------------------


def test_resume_needs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert resume_needs("pkg.mod:Flow") == ""
    assert resume_needs(f"{tmp_path}/a/x.py:Flow") == ""  # under the current folder
    assert resume_needs("/elsewhere/x.py:Flow") == "--allow /elsewhere"
    assert resume_needs("/elsewhere/x.py:Flow", allow=["/elsewhere"]) == ""
    assert resume_needs(f"{tmp_path}/a/x.py:Flow", here=False) == f"--allow {tmp_path}/a"
    for hopeless in ("", "__main__:Flow", "mod:f.<locals>.Flow"):
        assert resume_needs(hopeless) == NAME_IT
