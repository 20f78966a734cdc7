"""The event-driven pattern: steps fire when another step emits an event.

``scan_inbox`` emits ``ticket`` for every message it finds; ``triage`` runs once per
ticket, while the scan goes on, and emits ``urgent`` for the ones that need a human;
``page_on_call`` reacts to those. ``emit`` records an ``EventEmitted`` event in the run,
so the log shows who fired what.

    python examples/event_driven.py
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated

from pydantic import BaseModel

import plait
from plait import EventEmitted, Flow, listen, on_event, reducer, start

INBOX = [
    "printer jammed again",
    "URGENT: checkout page is down",
    "please reset my password",
    "URGENT: payments failing for EU customers",
]


class Desk(BaseModel):
    inbox: list[str] = INBOX
    triaged: Annotated[list[str], reducer(operator.add)] = []
    paged: Annotated[list[str], reducer(operator.add)] = []


class SupportDesk(Flow[Desk]):
    @start()
    async def scan_inbox(self) -> int:
        for message in self.state.inbox:
            await asyncio.sleep(0.01)  # stands in for reading the next message
            self.emit("ticket", message)
        return len(self.state.inbox)

    @listen(on_event("ticket"))
    async def triage(self, message: str) -> str:
        urgent = message.startswith("URGENT")
        self.state.triaged = [f"{'P1' if urgent else 'P3'} {message.removeprefix('URGENT: ')}"]
        if urgent:
            plait.emit("urgent", message.removeprefix("URGENT: "))
        return message

    @listen(on_event("urgent"))
    def page_on_call(self, incident: str) -> str:
        self.state.paged = [incident]
        return f"paged on-call: {incident}"


if __name__ == "__main__":
    desk = SupportDesk()
    desk.kickoff()
    fired = [e for e in desk.events if isinstance(e, EventEmitted)]
    print(f"{len(fired)} events emitted:")
    for e in fired:
        print(f"  {e.step:<11} -> {e.name:<7} {e.payload}")
    print("triaged:", *sorted(desk.state.triaged), sep="\n  ")
    print("paged on-call for:", "; ".join(sorted(desk.state.paged)))
