"""Leases and recovery: a run is run by one process at a time; a run whose process died is
finished by ``recover`` (``plait worker``), and only once; a run that loses its lease
stops and writes nothing more."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plait import Flow, RunBusyError, RunError, WaitingForInput, listen, start
from plait.engine import Recovered, open_store, recover
from plait.runtime import Event, RunRecord, StepCompleted, StepStarted, Store, owner_is_dead
from plait.runtime._lease import new_owner
from tests.engine._helpers import HANG_GUARD

# -- a run in another process that dies mid-way ----------------------------------------

FLOW = textwrap.dedent(
    """
    import os
    from pathlib import Path
    from plait import Flow, listen, start

    HERE = Path(__file__).parent
    LOG = HERE / "ran.log"
    CRASH = HERE / "crash-at"

    def ran(name):
        with LOG.open("a") as f:
            f.write(name + "\\n")

    class Leasy(Flow):
        @start()
        def first(self):
            ran("first")
            return 1

        @listen(first)
        def second(self, x):
            ran("second")
            if CRASH.exists():
                CRASH.unlink()
                os._exit(9)  # like kill -9: the lease is never released
            return x + 1

        @listen(second)
        def third(self, x):
            ran("third")
            return x * 10
    """
)

RUNNER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from leasy import Leasy
    Leasy().kickoff(store=sys.argv[2])
    """
)

OUTPUT = 20
"""What an uninterrupted run of ``Leasy`` returns."""


def crash_run(folder: Path, url: str) -> tuple[str, str]:
    """Run ``Leasy`` in a process that dies in its second step; return the run id and the
    owner the store still shows for it (the dead process). The completion of ``first`` may
    or may not have been stored by then (the next step starts while it commits)."""
    (folder / "leasy.py").write_text(FLOW)
    (folder / "runner.py").write_text(RUNNER)
    (folder / "crash-at").write_text("second")
    done = subprocess.run(
        [sys.executable, str(folder / "runner.py"), str(folder), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 9, done.stderr
    (record,) = asyncio.run(_records(url))
    assert record.status == "running"
    return record.run_id, record.owner


def rerun(url: str, run_id: str) -> list[str]:
    """The steps of ``Leasy`` a resume must run: those the store does not show completed."""

    async def go() -> list[str]:
        store = await open_store(url)
        try:
            events = await store.read(run_id)
        finally:
            await store.close()
        done = {e.step for e in events if isinstance(e, StepCompleted)}
        return [s for s in ("first", "second", "third") if s not in done]

    return asyncio.run(go())


def ran(folder: Path) -> list[str]:
    """The steps of ``Leasy`` that ran, in order, in every process."""
    return (folder / "ran.log").read_text().split()


async def _records(url: str) -> list[RunRecord]:
    store = await open_store(url)
    try:
        return await store.list_runs()
    finally:
        await store.close()


def get_run(url: str, run_id: str) -> RunRecord:
    async def go() -> RunRecord | None:
        store = await open_store(url)
        try:
            return await store.get_run(run_id)
        finally:
            await store.close()

    record = asyncio.run(go())
    assert record is not None
    return record


def event_count(url: str, run_id: str) -> int:
    async def go() -> int:
        store = await open_store(url)
        try:
            return len(await store.read(run_id))
        finally:
            await store.close()

    return asyncio.run(go())


def acquire(url: str, run_id: str, owner: str, ttl: float, *, replace: str = "") -> bool:
    async def go() -> bool:
        store = await open_store(url)
        try:
            return await store.acquire(run_id, owner, ttl, replace=replace)
        finally:
            await store.close()

    return asyncio.run(go())


def looked_at(result: Recovered) -> set[str]:
    return {*result.completed, *result.waiting, *result.failed, *result.skipped}


@pytest.fixture
def leasy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder where ``leasy`` imports, as a worker started there would have it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("leasy", None)
    yield tmp_path
    sys.modules.pop("leasy", None)


def test_a_killed_run_is_left_running_under_its_dead_owner(leasy: Path, store_url: str) -> None:
    run_id, owner = crash_run(leasy, store_url)
    host, scope, pid, token = owner.split(":")
    assert host and scope and pid.isdigit() and token
    assert get_run(store_url, run_id).lease_until > time.time()  # live, but its pid is gone
    assert ran(leasy) == ["first", "second"]


def test_only_a_gone_process_of_this_kernel_and_pid_namespace_is_judged_dead() -> None:
    """A sidecar in the same pod shares the hostname but not the PID namespace: its
    process ids mean nothing here, so its live lease must not look dead."""
    host, scope, _, _ = new_owner().split(":")
    gone = _unused_pid()
    assert owner_is_dead(f"{host}:{scope}:{gone}:tok")
    assert not owner_is_dead(f"{host}:{scope}:1:tok")  # alive
    assert not owner_is_dead(f"{host}:0123456789abcdef.4026531836:{gone}:tok")  # other ns
    assert not owner_is_dead(f"{host}:{gone}:tok")  # an older owner format: unknown
    assert not owner_is_dead(f"otherhost:{scope}:{gone}:tok")


def _unused_pid() -> int:
    """A process id that no process has now."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_recover_completes_a_killed_run_once(leasy: Path, store_url: str) -> None:
    run_id, _ = crash_run(leasy, store_url)
    before, todo = len(ran(leasy)), rerun(store_url, run_id)
    assert todo[-2:] == ["second", "third"]

    result = asyncio.run(recover(store_url))
    assert result == Recovered(completed=[run_id])
    assert ran(leasy)[before:] == todo  # steps stored as completed did not run again
    record = get_run(store_url, run_id)
    assert (record.status, record.owner, record.lease_until) == ("completed", "", 0.0)

    again = asyncio.run(recover(store_url))
    assert again == Recovered()
    assert len(ran(leasy)) == before + len(todo)


def test_a_run_leased_on_another_host_is_left_alone_until_its_lease_runs_out(
    leasy: Path, store_url: str
) -> None:
    run_id, dead = crash_run(leasy, store_url)
    todo = rerun(store_url, run_id)
    other = "otherhost:1:abc"  # a live process elsewhere: its pid means nothing here
    assert acquire(store_url, run_id, other, 30, replace=dead)

    result = asyncio.run(recover(store_url))
    assert run_id not in result.completed and run_id not in result.failed
    record = get_run(store_url, run_id)
    assert (record.status, record.owner) == ("running", other)

    sys.modules.pop("leasy", None)
    from leasy import Leasy  # type: ignore[import-not-found]

    with pytest.raises(RunBusyError, match=other):
        Leasy().resume(run_id, store=store_url)
    assert ran(leasy) == ["first", "second"]

    assert acquire(store_url, run_id, other, -1)  # its holder renews it into the past
    result = asyncio.run(recover(store_url))
    assert result.completed == [run_id]
    record = get_run(store_url, run_id)
    assert (record.status, record.owner) == ("completed", "")
    assert ran(leasy) == ["first", "second", *todo]


def test_of_two_racing_recovers_exactly_one_runs_the_run(leasy: Path, store_url: str) -> None:
    run_id, _ = crash_run(leasy, store_url)
    todo = rerun(store_url, run_id)

    async def both() -> list[Recovered]:
        return list(await asyncio.gather(recover(store_url), recover(store_url)))

    results = asyncio.run(both())
    assert sorted(len(r.completed) for r in results) == [0, 1]
    assert [r.completed for r in results if r.completed] == [[run_id]]
    assert not any(r.waiting for r in results)
    # The loser reports the run skipped, or finds nothing to do; never failed.
    assert not any(r.failed for r in results), [r.failed for r in results]
    assert ran(leasy) == ["first", "second", *todo]  # each step the log lacked ran once
    record = get_run(store_url, run_id)
    assert (record.status, record.owner) == ("completed", "")


class Overtaken:
    """A store through which a worker found a stale run, but another worker, on its own
    store, takes the run over and finishes it just before this one takes the lease."""

    def __init__(self, store: Store, url: str) -> None:
        self._store = store
        self._url = url
        self.overtaken = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def acquire(self, run_id: str, owner: str, ttl: float, *, replace: str = "") -> bool:
        if not self.overtaken:
            self.overtaken = True
            from leasy import Leasy

            assert await Leasy().resume_async(run_id, store=self._url) == OUTPUT
        return bool(await self._store.acquire(run_id, owner, ttl, replace=replace))


def test_a_worker_overtaken_by_another_does_not_report_the_run_failed(
    leasy: Path, store_url: str
) -> None:
    run_id, _ = crash_run(leasy, store_url)
    todo = rerun(store_url, run_id)

    async def slow() -> Recovered:
        store = Overtaken(await open_store(store_url), store_url)
        try:
            return await recover(store)
        finally:
            await store.close()

    result = asyncio.run(slow())
    record = get_run(store_url, run_id)
    assert (record.status, record.owner) == ("completed", "")  # holds already
    assert ran(leasy) == ["first", "second", *todo]  # holds already: run once
    assert run_id not in result.completed
    assert run_id not in result.failed, result.failed[run_id]
    assert "another process completed it" in result.skipped[run_id]


# -- runs in this process: heartbeat, release, a lost lease ----------------------------

HOOKS: dict[str, Any] = {}
"""What the flows below share with the test running them (set by each test)."""

calls: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _fresh_hooks() -> Iterator[None]:
    HOOKS.clear()
    calls.clear()
    yield
    HOOKS.clear()
    calls.clear()


async def _lease_of(url: str, run_id: str) -> RunRecord:
    store = await open_store(url)
    try:
        record = await store.get_run(run_id)
    finally:
        await store.close()
    assert record is not None
    return record


class Sleepy(Flow):
    """Its second step sleeps past several lease ttls, noting the lease before and after."""

    @start()
    def first(self) -> int:
        calls["first"] += 1
        return 1

    @listen(first)
    async def second(self, x: int) -> int:
        calls["second"] += 1
        url = HOOKS["url"]
        HOOKS["before"] = await _lease_of(url, self.run_id)
        if "sleeping" in HOOKS:
            HOOKS["sleeping"].set()
        await asyncio.sleep(HOOKS.get("nap", 1.0))
        HOOKS["after"] = await _lease_of(url, self.run_id)
        HOOKS["checked_at"] = time.time()
        return x + 1

    @listen(second)
    def third(self, x: int) -> int:
        calls["third"] += 1
        return x * 10


def test_the_heartbeat_keeps_a_long_step_s_lease(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAIT_LEASE_TTL", "0.3")
    HOOKS["url"] = store_url
    flow = Sleepy()
    assert flow.kickoff(store=store_url) == 20
    before, after = HOOKS["before"], HOOKS["after"]
    assert before.owner and after.owner == before.owner
    assert after.lease_until > before.lease_until  # renewed while the step slept
    assert after.lease_until > HOOKS["checked_at"]  # and still live after 1 s > 0.3 s ttl
    record = get_run(store_url, flow.run_id)
    assert (record.status, record.owner, record.lease_until) == ("completed", "", 0.0)


class Ending(Flow):
    """Ends as HOOKS["end"] says: completed, failed, or waiting for input."""

    @start()
    async def only(self) -> str:
        end = HOOKS["end"]
        if end == "failed":
            raise ValueError("no")
        if end == "waiting":
            await self.ask("ok?", schema=bool)
        return "done"


@pytest.mark.parametrize("end", ["completed", "failed", "waiting"])
def test_a_run_releases_its_lease_however_it_ends(store_url: str, end: str) -> None:
    HOOKS["end"] = end
    flow = Ending()
    error = {"completed": None, "failed": ValueError, "waiting": WaitingForInput}[end]
    if error is None:
        flow.kickoff(store=store_url)
    else:
        with pytest.raises(error):
            flow.kickoff(store=store_url)
    record = get_run(store_url, flow.run_id)
    assert (record.status, record.owner, record.lease_until) == (end, "", 0.0)


def test_a_new_run_is_created_with_its_lease(store_url: str) -> None:
    """The run's record is made already leased to its process: no acquire (a commit)
    follows the create, and the lease is released at the end as always."""
    HOOKS["end"] = "completed"
    calls: list[tuple[str, str, float]] = []

    async def main() -> str:
        store = await open_store(store_url)
        create_run, acquire = store.create_run, store.acquire

        async def creating(record: RunRecord) -> None:
            calls.append(("create", record.owner, record.lease_until))
            await create_run(record)

        async def acquiring(run_id: str, owner: str, ttl: float, **options: Any) -> bool:
            calls.append(("acquire", owner, ttl))
            return await acquire(run_id, owner, ttl, **options)

        store.create_run, store.acquire = creating, acquiring  # type: ignore[method-assign]
        try:
            flow = Ending()
            started = time.time()
            assert await flow.kickoff_async(store=store) == "done"
            [(kind, owner, until)] = calls
            assert kind == "create" and owner and until >= started + 29.0
            return flow.run_id
        finally:
            await store.close()

    run_id = asyncio.run(main())
    record = get_run(store_url, run_id)
    assert (record.status, record.owner, record.lease_until) == ("completed", "", 0.0)


def test_a_create_that_fails_after_storing_the_run_gives_its_lease_back(
    store_url: str,
) -> None:
    """The run's record was stored, but the create raised (a cancel that psycopg lets
    finish, a lost reply): the run must not stay leased to nobody for the ttl."""
    HOOKS["end"] = "completed"

    async def main() -> str:
        store = await open_store(store_url)
        create_run = store.create_run

        async def stored_then_lost(record: RunRecord) -> None:
            await create_run(record)
            raise asyncio.CancelledError

        store.create_run = stored_then_lost  # type: ignore[method-assign]
        try:
            flow = Ending()
            with pytest.raises(asyncio.CancelledError):
                await flow.kickoff_async(store=store)
            return flow.run_id
        finally:
            await store.close()

    run_id = asyncio.run(main())
    record = get_run(store_url, run_id)
    assert (record.owner, record.lease_until) == ("", 0.0)


def test_a_run_that_loses_its_lease_stops_and_writes_nothing_more(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAIT_LEASE_TTL", "0.3")
    thief = "thief:1:x"
    HOOKS["url"] = store_url
    HOOKS["nap"] = HANG_GUARD  # only a run that never notices sleeps this long

    async def go() -> tuple[str, float, list[Event]]:
        HOOKS["sleeping"] = asyncio.Event()
        flow = Sleepy()
        run = asyncio.create_task(flow.kickoff_async(store=store_url))
        await asyncio.wait_for(HOOKS["sleeping"].wait(), HANG_GUARD)
        store = await open_store(store_url)
        try:
            holder = (await store.get_run(flow.run_id)).owner  # type: ignore[union-attr]
            assert holder and holder != thief
            stolen_at = time.time()
            assert await store.acquire(flow.run_id, thief, 30, replace=holder)
            with pytest.raises(RunError, match="lease") as info:
                await asyncio.wait_for(run, HANG_GUARD)
            assert info.value.run_id == flow.run_id
            return flow.run_id, stolen_at, await store.read(flow.run_id)
        finally:
            await store.close()

    run_id, stolen_at, events = asyncio.run(go())
    # Events recorded before the theft may still be committing then; nothing after it is
    # stored: not the step's completion, not a RunFailed.
    assert events and all(e.ts < stolen_at for e in events)
    last = events[-1]
    assert isinstance(last, StepStarted) and last.step == "second"
    assert "after" not in HOOKS and calls["third"] == 0
    record = get_run(store_url, run_id)
    assert (record.status, record.owner) == ("running", thief)  # the thief's run now


# -- waiting runs ----------------------------------------------------------------------


class Asking(Flow):
    @start()
    def draft(self) -> str:
        calls["draft"] += 1
        return "v1"

    @listen(draft)
    async def approve(self, draft: str) -> str:
        calls["approve"] += 1
        ok = await self.ask("ok?", schema=bool)
        return f"{draft} approved={ok}"


def test_recover_leaves_an_unanswered_run_waiting(store_url: str) -> None:
    with pytest.raises(WaitingForInput) as info:
        Asking().kickoff(store=store_url)
    run_id = info.value.run_id
    count = event_count(store_url, run_id)

    result = asyncio.run(recover(store_url))
    assert run_id not in looked_at(result)
    record = get_run(store_url, run_id)
    assert (record.status, record.owner) == ("waiting", "")
    assert event_count(store_url, run_id) == count
    assert calls == Counter({"draft": 1, "approve": 1})


def test_recover_finishes_a_run_answered_without_resuming(store_url: str) -> None:
    with pytest.raises(WaitingForInput) as info:
        Asking().kickoff(store=store_url)
    run_id = info.value.run_id
    asyncio.run(Asking().respond_async(run_id, True, store=store_url, resume=False))
    assert get_run(store_url, run_id).status == "waiting"

    result = asyncio.run(recover(store_url))
    assert result == Recovered(completed=[run_id])
    record = get_run(store_url, run_id)
    assert (record.status, record.owner) == ("completed", "")
    assert calls == Counter({"draft": 1, "approve": 2})  # `draft` did not run again
    assert asyncio.run(recover(store_url)) == Recovered()


# -- one run that cannot go on does not stop the others ---------------------------------

OTHER = FLOW.replace("class Leasy", "class Other")
"""``Leasy`` under another name, in the module ``other``."""

RUN_ONE = textwrap.dedent(
    """
    import importlib, sys
    sys.path.insert(0, sys.argv[1])
    getattr(importlib.import_module(sys.argv[3]), sys.argv[4])().kickoff(store=sys.argv[2])
    """
)


def crash_in(folder: Path, url: str, module: str) -> str:
    """Run ``Leasy`` (module ``leasy``) or ``Other`` (``other``) in a process that dies in
    its second step, in a store that may hold other runs; return the new run's id."""
    (folder / "leasy.py").write_text(FLOW)
    (folder / "other.py").write_text(OTHER)
    (folder / "run_one.py").write_text(RUN_ONE)
    (folder / "crash-at").write_text("second")
    before = {r.run_id for r in asyncio.run(_records(url))}
    flow = "Leasy" if module == "leasy" else "Other"
    done = subprocess.run(
        [sys.executable, str(folder / "run_one.py"), str(folder), url, module, flow],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 9, done.stderr
    (run_id,) = {r.run_id for r in asyncio.run(_records(url))} - before
    return run_id


@pytest.fixture
def other(leasy: Path) -> Iterator[Path]:
    """``leasy``, where the module ``other`` imports too."""
    sys.modules.pop("other", None)
    yield leasy
    sys.modules.pop("other", None)


def test_a_run_whose_code_does_not_load_is_reported_and_the_others_recovered(
    other: Path, store_url: str
) -> None:
    bad = crash_in(other, store_url, "other")
    good = crash_in(other, store_url, "leasy")
    (other / "other.py").write_text(OTHER + "\ndef broken(:\n")  # a deploy broke it

    result = asyncio.run(recover(store_url))
    assert result.completed == [good]
    assert list(result.failed) == [bad]
    assert "SyntaxError" in result.failed[bad] and "'other:Other'" in result.failed[bad]
    record = get_run(store_url, bad)
    assert record.status == "running"  # left for a worker where its code loads

    (other / "other.py").write_text(OTHER)  # fixed
    sys.modules.pop("other", None)
    assert asyncio.run(recover(store_url)).completed == [bad]


def test_a_run_that_cannot_go_on_with_its_code_is_marked_failed_not_retried(
    other: Path, store_url: str
) -> None:
    bad = crash_in(other, store_url, "other")
    good = crash_in(other, store_url, "leasy")
    # A deploy gave Other a state model its stored runs do not fit: the code loads, but
    # the run cannot go on with it, here or on any other worker.
    (other / "other.py").write_text(
        OTHER.replace(
            "from plait import Flow, listen, start",
            "from pydantic import BaseModel\nfrom plait import Flow, listen, start\n\n"
            "class Needs(BaseModel):\n    need: int",
        ).replace("class Other(Flow):", "class Other(Flow[Needs]):")
    )

    result = asyncio.run(recover(store_url))
    assert result.completed == [good]
    assert list(result.failed) == [bad] and "state" in result.failed[bad]
    record = get_run(store_url, bad)
    assert (record.status, record.owner) == ("failed", "")
    assert f"plait runs resume {bad}" in record.error and "Needs" in record.error
    assert asyncio.run(recover(store_url)) == Recovered()  # not tried again

    (other / "other.py").write_text(OTHER)  # the code fixed, the run goes on
    sys.modules.pop("other", None)
    from other import Other  # type: ignore[import-not-found]

    assert asyncio.run(Other().resume_async(bad, store=store_url)) == OUTPUT


def test_a_run_whose_log_does_not_decode_does_not_stop_the_others(
    other: Path, tmp_path: Path
) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path}/runs.db"
    bad = crash_in(other, url, "other")
    good = crash_in(other, url, "leasy")
    with sqlite3.connect(tmp_path / "runs.db") as conn:  # an output no codec can read
        conn.execute(
            "UPDATE events SET body = replace(body, '\"output\":1', "
            '\'"output":{"$decimal":"not a number"}\') WHERE run_id = ?',
            (bad,),
        )
    conn.close()

    result = asyncio.run(recover(url))
    assert result.completed == [good]
    assert list(result.failed) == [bad]
    assert get_run(url, bad).status != "completed"


def test_work_goes_on_past_a_bad_run_and_a_failed_look_and_backs_off(
    other: Path, tmp_path: Path
) -> None:
    from plait.core import StoreError
    from plait.engine import load_definition, work

    url = f"sqlite:///{tmp_path}/runs.db"
    bad = crash_in(other, url, "other")
    good = crash_in(other, url, "leasy")
    (other / "other.py").write_text(OTHER + "\ndef broken(:\n")
    tries: Counter[str] = Counter()
    passes: list[Recovered] = []

    def load(record: RunRecord) -> Any:
        tries[record.run_id] += 1
        return load_definition(record)

    class Flaky:
        """The store, unreachable for the first look."""

        def __init__(self, store: Store) -> None:
            self._store = store
            self.down = True

        def __getattr__(self, name: str) -> Any:
            return getattr(self._store, name)

        async def list_runs(self, **options: Any) -> list[RunRecord]:
            if self.down:
                self.down = False
                raise StoreError("the server at redis://:s3cret@db:6379/0 went away")
            return await self._store.list_runs(**options)

    async def go() -> None:
        store = await open_store(url)
        enough = asyncio.Event()

        def looked(result: Recovered) -> None:
            passes.append(result)
            if len(passes) == 4:
                enough.set()

        task = asyncio.ensure_future(work(Flaky(store), interval=0.01, load=load, on_pass=looked))
        try:
            await asyncio.wait_for(enough.wait(), HANG_GUARD)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await store.close()

    asyncio.run(go())
    assert "went away" in passes[0].error and "s3cret" not in passes[0].error
    assert passes[1].completed == [good] and list(passes[1].failed) == [bad]
    assert all(p == Recovered() for p in passes[2:])
    assert tries == Counter({good: 1, bad: 1})  # the bad run waits before its next try
    assert get_run(url, good).status == "completed"


class _SwallowsCancel:
    """A store whose lease renewal swallows the first cancel that lands inside it, as
    redis-py 8.0-8.2 do about one time in five: the task goes on as if not cancelled."""

    def __init__(self) -> None:
        self.renewals = 0
        self.swallowed = False

    async def acquire(self, run_id: str, owner: str, ttl: float, *, replace: str = "") -> bool:
        self.renewals += 1
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed = True  # the driver's bug
        return True

    async def release(self, run_id: str, owner: str) -> None:
        return None


def test_releasing_a_lease_ends_its_heartbeat_even_when_the_store_swallows_the_cancel() -> None:
    from plait.runtime._lease import Lease

    async def main() -> int | None:
        store = _SwallowsCancel()
        lease = Lease(store, "r1", ttl=0.003)  # type: ignore[arg-type]
        lease.held = True
        lease.keep(lambda error: None)
        while store.renewals == 0:  # the heartbeat is inside a renewal now
            await asyncio.sleep(0.001)
        releasing = asyncio.ensure_future(lease.release())
        done, _ = await asyncio.wait([releasing], timeout=2)
        if not done:  # it hung here forever; cancel again for the test to end
            releasing.cancel()
            await asyncio.gather(releasing, return_exceptions=True)
            return None
        renewals = store.renewals
        await asyncio.sleep(0.05)
        return store.renewals - renewals

    assert asyncio.run(main()) == 0  # and no renewal after release
