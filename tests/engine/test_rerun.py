"""Re-run from a chosen step after a code fix: every result that does not depend on that
step is reused; the step and what it set off run again, in a new run."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from plait import Flow, RunError, and_, listen, or_, router, start
from plait.engine import open_store, rerun_from

RAN: Counter[str] = Counter()
FIXED = {"draft": False}


class Article(Flow[dict[str, Any]]):
    @start()
    def research(self) -> str:
        RAN["research"] += 1
        self.state["facts"] = "facts"
        return "facts"

    @listen(research)
    def draft(self, facts: str) -> str:
        RAN["draft"] += 1
        self.state["draft"] = f"{facts}: {'good' if FIXED['draft'] else 'buggy'} draft"
        return str(self.state["draft"])

    @listen(research)
    def images(self, facts: str) -> str:  # parallel to draft, does not depend on it
        RAN["images"] += 1
        self.state["images"] = 3
        return "3 images"

    @listen(draft)
    def edit(self, text: str) -> str:
        RAN["edit"] += 1
        self.state["edited"] = text.upper()
        return text.upper()

    @listen(and_(edit, images))
    def publish(self) -> str:
        RAN["publish"] += 1
        return f"{self.state['edited']} + {self.state['images']} images"


@pytest.fixture(autouse=True)
def _reset() -> None:
    RAN.clear()
    FIXED["draft"] = False


async def _statuses(url: str) -> dict[str, str]:
    store = await open_store(url)
    try:
        return {r.run_id: r.status for r in await store.list_runs()}
    finally:
        await store.close()


def test_rerun_from_a_step_reuses_what_does_not_depend_on_it(store_url: str) -> None:
    first = Article()
    assert first.kickoff(store=store_url) == "FACTS: BUGGY DRAFT + 3 images"
    FIXED["draft"] = True  # the code fix
    RAN.clear()
    new_id = asyncio.run(rerun_from(Article(), first.run_id, "draft", store=store_url))
    again = Article()
    assert again.resume(new_id, store=store_url) == "FACTS: GOOD DRAFT + 3 images"
    assert Counter({"draft": 1, "edit": 1, "publish": 1}) == RAN  # not research, images
    assert again.state["draft"] == "facts: good draft"
    assert again.state["images"] == 3
    statuses = asyncio.run(_statuses(store_url))
    assert statuses == {first.run_id: "completed", new_id: "completed"}
    # the original run is untouched
    assert Article().kickoff(store=store_url) == "FACTS: GOOD DRAFT + 3 images"


class Loop(Flow[dict[str, Any]]):
    @start()
    def begin(self) -> int:
        RAN["begin"] += 1
        self.state["n"] = 0
        return 0

    @router(or_(begin, "again"))
    def step(self) -> str:
        RAN["step"] += 1
        self.state["n"] += 1
        return "again" if self.state["n"] < 3 else "done"

    @listen("done")
    def end(self) -> int:
        RAN["end"] += 1
        return int(self.state["n"])


def test_rerun_from_a_later_invocation_of_a_loop(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    first = Loop()
    assert first.kickoff(store=url) == 3
    RAN.clear()
    new_id = asyncio.run(rerun_from(Loop(), first.run_id, "step", invocation=2, store=url))
    again = Loop()
    assert again.resume(new_id, store=url) == 3
    assert Counter({"step": 2, "end": 1}) == RAN  # invocations 2 and 3, not 1 or begin


def test_rerun_of_a_failed_run_after_a_fix(tmp_path: Any) -> None:
    class Fragile(Flow[dict[str, Any]]):
        @start()
        def load(self) -> int:
            RAN["load"] += 1
            return 2

        @listen(load)
        def compute(self, n: int) -> int:
            RAN["compute"] += 1
            if not FIXED["draft"]:
                raise ValueError("bug")
            return n * 21

    url = f"sqlite:///{tmp_path}/runs.db"
    flow = Fragile()
    with pytest.raises(ValueError, match="bug"):
        flow.kickoff(store=url)
    FIXED["draft"] = True
    new_id = asyncio.run(rerun_from(Fragile(), flow.run_id, "compute", store=url))
    assert Fragile().resume(new_id, store=url) == 42
    assert Counter({"load": 1, "compute": 2}) == RAN


def test_bad_reruns_are_refused(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    flow = Article()
    flow.kickoff(store=url)
    with pytest.raises(RunError, match="has no step 'drfat'"):
        asyncio.run(rerun_from(Article(), flow.run_id, "drfat", store=url))
    with pytest.raises(RunError, match="invocation 2 never started"):
        asyncio.run(rerun_from(Article(), flow.run_id, "draft", invocation=2, store=url))
    with pytest.raises(RunError, match="no run nope"):
        asyncio.run(rerun_from(Article(), "nope", "draft", store=url))
    with pytest.raises(RunError, match="is a run of 'Article', not of 'Loop'"):
        asyncio.run(rerun_from(Loop(), flow.run_id, "step", store=url))
