"""The public API: a curated ``__all__``, and ``import plait`` stays light."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import plait

PUBLIC = {
    # authoring
    "Flow",
    "FlowBuilder",
    "start",
    "listen",
    "router",
    "or_",
    "and_",
    "on_event",
    "Workflow",
    "RetryPolicy",
    "CachePolicy",
    "reducer",
    "FlowState",
    "InputProvider",
    "InputResponse",
    "ConsoleProvider",
    # plans
    "compile",
    "Plan",
    # running
    "StepContext",
    "context",
    "emit",
    "map",
    "ask",
    "pipeline",
    "Stage",
    "scatter_gather",
    "map_reduce",
    # events
    "Event",
    "RunStarted",
    "StepStarted",
    "StepCompleted",
    "StepFailed",
    "StateChanged",
    "RouteTaken",
    "EventEmitted",
    "ItemCompleted",
    "RunCompleted",
    "RunFailed",
    "RunResumed",
    "RunCancelled",
    "RunWaiting",
    "InputRequested",
    "InputReceived",
    "CacheHit",
    "StateSnapshot",
    # errors
    "PlaitError",
    "DefinitionError",
    "PlanError",
    "InputError",
    "RunError",
    "StepError",
    "StepTimeoutError",
    "StageValidationError",
    "RouterError",
    "LoopLimitError",
    "StoreError",
    "MissingExtraError",
    "RunBusyError",
    "ModelError",
    "ModelOutputError",
    "ToolError",
    "AgentError",
    "MaxIterationsError",
    "ModelCalled",
    "ToolCalled",
    "TokenStreamed",
    "Model",
    "tool",
    "Agent",
    "Task",
    "Crew",
    "InputTimeoutError",
    "WaitingForInput",
    # metadata
    "__version__",
}


def test_all_is_the_curated_list() -> None:
    assert set(plait.__all__) == PUBLIC
    assert len(plait.__all__) == len(set(plait.__all__))  # no name twice
    assert sorted(dir(plait)) == sorted(plait.__all__)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_imports(name: str) -> None:
    value = getattr(plait, name)
    assert value is not None
    module = importlib.import_module("plait")
    assert getattr(module, name) is value  # the same object every time


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from plait import *", namespace)
    assert set(namespace) - {"__builtins__"} == PUBLIC


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        plait.nope  # noqa: B018


def test_errors_share_one_root() -> None:
    for name in PUBLIC:
        value = getattr(plait, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, plait.PlaitError), name


EVENTS = [
    "RunStarted",
    "StepStarted",
    "StepCompleted",
    "StepFailed",
    "StateChanged",
    "RouteTaken",
    "EventEmitted",
    "ItemCompleted",
    "RunCompleted",
    "RunFailed",
    "RunResumed",
    "RunCancelled",
]


@pytest.mark.parametrize("name", EVENTS)
def test_events_are_past_tense_events(name: str) -> None:
    event = getattr(plait, name)
    assert issubclass(event, plait.Event)
    assert name.endswith(("ed", "Taken"))


HEAVY = ["pydantic", "asyncio", "typer", "rich", "yaml", "plait.engine", "plait.runtime"]


def test_import_plait_is_light() -> None:
    code = (
        "import json, sys\n"
        "import plait\n"
        f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    assert not any(loaded.values()), {m for m, on in loaded.items() if on}


def test_defining_a_flow_loads_no_engine() -> None:
    code = (
        "import json, sys\n"
        "from plait import Flow, start\n"
        "class F(Flow):\n"
        "    @start()\n"
        "    def a(self):\n"
        "        return 1\n"
        "print(json.dumps([m for m in ('asyncio', 'plait.engine', 'typer', 'rich') "
        "if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_version() -> None:
    assert isinstance(plait.__version__, str)
    assert plait.__version__.count(".") == 2


def test_packages_use_each_other_only_through_their_init() -> None:
    """``plait.x._module`` is private to ``plait.x``: other packages import what its
    ``__init__`` exports."""
    import re
    from pathlib import Path

    root = Path(plait.__file__).parent
    private = re.compile(
        r"^\s*(?:from|import)\s+plait\.(\w+)(?:\._\w+|\s+import\s+\(?\s*_[a-z])", re.MULTILINE
    )
    found = []
    for path in sorted(root.rglob("*.py")):
        package = path.relative_to(root).parts[0]
        for match in private.finditer(path.read_text(encoding="utf-8")):
            if match.group(1) != package:
                found.append(f"{path.relative_to(root)}: {match.group(0).strip()}")
    assert found == []


def test_a_dict_state_run_never_loads_pydantic() -> None:
    """pydantic costs about 8 MB and tens of milliseconds to import: a flow that uses
    no model runs without it (the value codec and ask() load it when a model shows up)."""
    import textwrap

    code = textwrap.dedent(
        """
        import sys
        from plait import Flow, listen, start

        class F(Flow):
            @start()
            async def a(self):
                self.state["n"] = 1
                return {"x": [1, 2]}

            @listen(a)
            def b(self, out):
                return out["x"]

        assert F().kickoff() == [1, 2]
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core")))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
