"""``Plan``: the validated, frozen, JSON-serialisable form of a flow or workflow."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from plait.core import DefinitionError
from plait.define import AllOf, AnyOf, CachePolicy, Condition, Leaf, LeafKind, RetryPolicy

PLAN_FORMAT = 1
"""Version of the plan's JSON form; bump it when the shape changes."""

PlanKind = Literal["flow", "workflow"]


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One step of a plan. ``trigger`` holds only resolved leaves (step, label, event)."""

    name: str
    kind: Literal["step", "router"] = "step"
    start: bool = False
    trigger: Condition | None = None
    ref: str = ""
    is_async: bool = False
    takes_input: bool = False
    retry: RetryPolicy | None = None
    timeout: float | None = None
    cache: CachePolicy | None = None
    max_calls: int = 1000
    labels: tuple[str, ...] | None = None
    writes: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    emits: tuple[str, ...] = field(default=(), compare=False)
    """Event names the step's code passes to ``emit`` as constants, read from its source
    by ``compile()`` (best effort, for drawing: a computed name is not there). Not
    compared: plans that differ only in it are equal, as a plan rebuilt from bindings
    is the stored one. Plans stored before it existed read back with none."""


@dataclass(frozen=True)
class Plan:
    """A compiled flow: steps with resolved triggers, state layout and reducers.

    Plans are values: equal definitions compile to equal plans, and ``Plan.from_json``
    of ``plan.to_json()`` gives the plan back.
    """

    name: str
    kind: PlanKind
    steps: tuple[PlanStep, ...]
    state_type: str = ""
    state_fields: tuple[str, ...] | None = None
    reducers: tuple[str, ...] = ()
    format: int = PLAN_FORMAT
    warnings: tuple[str, ...] = field(default=(), compare=False)
    """What ``compile()`` found that runs, but maybe not as meant (a label nobody listens
    to, a step nothing triggers); ``compile(..., strict=True)`` refuses them. Not part of
    the JSON form."""
    by_name: dict[str, PlanStep] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """The steps by name (made with the plan; read it, do not change it)."""
    cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Data other layers derive from the plan once (the runtime's trigger index)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {s.name: s for s in self.steps})

    def step(self, name: str) -> PlanStep:
        try:
            return self.by_name[name]
        except KeyError:
            raise DefinitionError(f"plan {self.name!r} has no step {name!r}") from None

    @property
    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "name": self.name,
            "kind": self.kind,
            "state_type": self.state_type,
            "state_fields": None if self.state_fields is None else list(self.state_fields),
            "reducers": list(self.reducers),
            "steps": [_step_to_dict(s) for s in self.steps],
        }

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        fmt = data.get("format")
        if fmt != PLAN_FORMAT:
            raise DefinitionError(
                f"plan format {fmt!r} is not supported by this plait (it reads format "
                f"{PLAN_FORMAT}); recompile the flow with this version"
            )
        missing = [k for k in ("name", "kind", "steps") if k not in data]
        if missing:
            raise DefinitionError(
                f"this is not a whole plan: it has no {', '.join(map(repr, missing))} (a "
                "stored run keeps only its plan's name and code reference; Plan.from_dict "
                "reads what Plan.to_dict() wrote)"
            )
        fields = data.get("state_fields")
        return cls(
            name=data["name"],
            kind=data["kind"],
            steps=tuple(_step_from_dict(s) for s in data["steps"]),
            state_type=data.get("state_type", ""),
            state_fields=None if fields is None else tuple(fields),
            reducers=tuple(data.get("reducers", ())),
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_dict(json.loads(text))


def condition_to_dict(cond: Condition) -> dict[str, Any]:
    if isinstance(cond, Leaf):
        return {cond.kind: cond.name}
    key = "or" if isinstance(cond, AnyOf) else "and"
    return {key: [condition_to_dict(c) for c in cond.children]}


def condition_from_dict(data: dict[str, Any]) -> Condition:
    ((key, value),) = data.items()
    if key == "or":
        return AnyOf(tuple(condition_from_dict(c) for c in value))
    if key == "and":
        return AllOf(tuple(condition_from_dict(c) for c in value))
    kinds: dict[str, LeafKind] = {"step": "step", "label": "label", "event": "event"}
    if key in kinds:
        return Leaf(kinds[key], value)
    raise DefinitionError(f"unknown trigger {key!r} in plan")


def _qualname(tp: type) -> str:
    return f"{tp.__module__}.{tp.__qualname__}"


def _import_type(path: str) -> type[BaseException]:
    module, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return Exception
    return found if isinstance(found, type) and issubclass(found, BaseException) else Exception


def _step_to_dict(s: PlanStep) -> dict[str, Any]:
    out: dict[str, Any] = {"name": s.name, "kind": s.kind, "start": s.start, "ref": s.ref}
    out["trigger"] = None if s.trigger is None else condition_to_dict(s.trigger)
    out["is_async"] = s.is_async
    out["takes_input"] = s.takes_input
    out["timeout"] = s.timeout
    out["max_calls"] = s.max_calls
    out["labels"] = None if s.labels is None else list(s.labels)
    out["writes"] = list(s.writes)
    out["depends_on"] = list(s.depends_on)
    out["emits"] = list(s.emits)
    c = s.cache
    out["cache"] = None
    if c is not None:
        key = None if c.key is None else getattr(c.key, "__qualname__", repr(c.key))
        out["cache"] = {"ttl": c.ttl, "version": c.version, "key": key}
    r = s.retry
    out["retry"] = None
    if r is not None:
        out["retry"] = {
            "attempts": r.attempts,
            "backoff": r.backoff,
            "multiplier": r.multiplier,
            "max_backoff": r.max_backoff,
            "jitter": r.jitter,
            "retry_on": [_qualname(t) for t in r.retry_on],
        }
    return out


def _step_from_dict(d: dict[str, Any]) -> PlanStep:
    r = d.get("retry")
    retry = None
    if r is not None:
        retry = RetryPolicy(
            attempts=r["attempts"],
            backoff=r["backoff"],
            multiplier=r["multiplier"],
            max_backoff=r["max_backoff"],
            jitter=r["jitter"],
            retry_on=tuple(_import_type(t) for t in r["retry_on"]),
        )
    c = d.get("cache")
    cache = None if c is None else CachePolicy(ttl=c.get("ttl"), version=c.get("version", ""))
    trig = d.get("trigger")
    labels = d.get("labels")
    return PlanStep(
        name=d["name"],
        kind=d["kind"],
        start=d["start"],
        trigger=None if trig is None else condition_from_dict(trig),
        ref=d.get("ref", ""),
        is_async=d.get("is_async", False),
        takes_input=d.get("takes_input", False),
        retry=retry,
        timeout=d.get("timeout"),
        cache=cache,
        max_calls=d.get("max_calls", 1000),
        labels=None if labels is None else tuple(labels),
        writes=tuple(d.get("writes", ())),
        depends_on=tuple(d.get("depends_on", ())),
        emits=tuple(d.get("emits", ())),
    )
