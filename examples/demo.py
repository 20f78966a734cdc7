"""plait's main demo: a research-and-writing flow in the style of CrewAI Flows.

Three research branches start at once, an ``and_`` join outlines the article once all of
them are done, the sections are drafted with a bounded ``map``, and a router loops a
revision step until the draft scores well enough. The "work" is simulated with short
sleeps (no LLM, no network), so the timeline shows what ran in parallel.

    python examples/demo.py ["a topic"]
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from pydantic import BaseModel

from plait import Flow, and_, listen, or_, router, start
from plait.runtime import Event, StepCompleted, StepStarted

QUALITY_BAR = 0.8
MAX_REVISIONS = 3


class Research(BaseModel):
    topic: str = "durable AI workflows"
    web: list[str] = []
    papers: list[str] = []
    experts: list[str] = []
    outline: list[str] = []
    sections: list[str] = []
    score: float = 0.0
    revisions: int = 0
    edits: list[str] = []


EDITS = ["tightened the wording", "added an example per section", "checked every claim"]


async def draft_section(heading: str) -> str:
    """Stands in for one LLM call that writes a section."""
    await asyncio.sleep(0.05)
    return f"## {heading}\nWhat it is, why it matters, and what to watch for."


class DemoFlow(Flow[Research]):
    """Research a topic in parallel, draft it section by section, revise until good."""

    @start()
    async def search_web(self) -> list[str]:
        await asyncio.sleep(0.15)
        self.state.web = [f"{self.state.topic} in production", "retries and timeouts"]
        return self.state.web

    @start()
    async def search_papers(self) -> list[str]:
        await asyncio.sleep(0.2)
        self.state.papers = ["event sourcing for agents"]
        return self.state.papers

    @start()
    async def ask_experts(self) -> list[str]:
        await asyncio.sleep(0.1)
        self.state.experts = ["keep steps small and idempotent"]
        return self.state.experts

    @listen(and_(search_web, search_papers, ask_experts))
    def make_outline(self) -> list[str]:
        findings = [*self.state.web, *self.state.papers, *self.state.experts]
        self.state.outline = [f[0].upper() + f[1:] for f in findings]
        return self.state.outline

    @listen(make_outline)
    async def write_sections(self, outline: list[str]) -> int:
        self.state.sections = await self.map(draft_section, outline, concurrency=2)
        return len(self.state.sections)

    @router(or_(write_sections, "revise_draft"))
    def quality_check(self) -> str:
        sources = len(self.state.outline)
        self.state.score = round(min(1.0, 0.15 * sources - 0.05 + 0.15 * self.state.revisions), 2)
        if self.state.score >= QUALITY_BAR or self.state.revisions >= MAX_REVISIONS:
            return "publish"
        return "revise"

    @listen("revise")
    async def revise_draft(self) -> str:
        await asyncio.sleep(0.03)
        edit = EDITS[self.state.revisions % len(EDITS)]
        self.state.edits.append(edit)
        self.state.revisions += 1
        return edit

    @listen("publish")
    def publish_article(self) -> str:
        topic = self.state.topic
        title = f"# {topic[0].upper() + topic[1:]}: a field report"
        edits = "; ".join(self.state.edits) or "none"
        footer = f"Score {self.state.score:.2f} after {self.state.revisions} revisions ({edits})."
        return "\n\n".join([title, *self.state.sections, footer])


def timeline(events: list[Event]) -> list[tuple[str, float, float]]:
    """(step, start ms, duration ms) for each step run, from the run's events."""
    t0 = events[0].ts
    started: dict[tuple[str, int], float] = {}
    rows = []
    for e in events:
        if isinstance(e, StepStarted):
            started[(e.step, e.invocation)] = e.ts
        elif isinstance(e, StepCompleted):
            begin = started[(e.step, e.invocation)]
            name = e.step if e.invocation == 1 else f"{e.step} #{e.invocation}"
            rows.append((name, (begin - t0) * 1000, (e.ts - begin) * 1000))
    return sorted(rows, key=lambda row: row[1])


def main(argv: list[str]) -> Any:
    flow = DemoFlow()
    article = flow.kickoff(inputs={"topic": argv[0]} if argv else None)
    print(article, "\n\nstep                  start   took")
    for name, begin, took in timeline(flow.events):
        bar = " " * round(begin / 10) + "█" * max(1, round(took / 10))
        print(f"{name:<20} {begin:5.0f}ms {took:4.0f}ms  {bar}")
    return article


if __name__ == "__main__":
    main(sys.argv[1:])
