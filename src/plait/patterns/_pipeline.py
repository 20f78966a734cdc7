"""The pipeline pattern: stages in sequence, each validated on the way in and out.

>>> from plait import Stage, pipeline
>>> wf = pipeline(
...     Stage("parse", lambda text: [int(x) for x in text.split(",")], output=list[int]),
...     Stage("total", sum, input=list[int], output=int),
... )
>>> wf.run({"data": "1,2,3"})
6
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

from plait.core import DefinitionError, StageValidationError
from plait.define import Workflow
from plait.patterns._step import context
from plait.patterns._tasks import INPUT, describe, lift, require_callable, short, upstream_of

Side = Literal["input", "output"]
Check = Callable[[Any], Any]


def _is_type_form(value: object) -> bool:
    """A class or a typing form (``list[int]``, ``int | None``, ``Annotated[...]``)."""
    return (
        isinstance(value, type)
        or typing.get_origin(value) is not None
        or isinstance(value, types.UnionType)
    )


def _checker(owner: str, side: Side, validator: object) -> tuple[Check | None, str]:
    """(a function that validates a value and returns it, what it validates against)."""
    if validator is None:
        return None, ""
    if _is_type_form(validator):
        from pydantic import TypeAdapter

        try:
            adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, validator))
        except Exception as exc:
            raise DefinitionError(
                f"{owner}: pydantic cannot validate {side} against {validator!r}: {exc}"
            ) from exc
        if isinstance(validator, type) and typing.get_origin(validator) is None:
            name = validator.__name__
        else:
            name = _type_repr(validator)
        return adapter.validate_python, f"against {name}"
    if callable(validator):
        return validator, f"by {describe(validator)}"
    raise DefinitionError(
        f"{owner}: {side}= must be a pydantic model class, a type such as list[int], or a "
        f"function that returns the value (or raises), got {validator!r}"
    )


def _type_repr(tp: object) -> str:
    """``list[app.models.Order]`` -> ``list[Order]``."""
    return re.sub(r"\b(?:\w+\.)+(\w)", r"\1", repr(tp))


def _summary(exc: Exception) -> str:
    """A pydantic ValidationError in one line per problem; other errors as ``Type: text``."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return f"{type(exc).__name__}: {exc}"
    errors = exc.errors(include_url=False)
    noun = "error" if len(errors) == 1 else "errors"
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err["loc"]) or "value"
        parts.append(f"{loc}: {err['msg']} (got {short(err.get('input'))})")
    return f"{len(errors)} validation {noun}: " + "; ".join(parts)


class Stage:
    """One stage of a :func:`pipeline`: ``fn`` (sync or async) takes the previous stage's
    output and returns this stage's output.

    ``input`` and ``output`` validate what goes in and what comes out: a pydantic model
    class or any type pydantic understands (``list[int]``, a TypedDict) validates and
    coerces the value; any other callable is called with the value and returns it (possibly
    converted) or raises. A failure stops the run with :class:`plait.StageValidationError`.
    """

    __slots__ = ("_checks", "fn", "input", "name", "output")

    def __init__(
        self,
        name: str,
        fn: Callable[[Any], Any],
        *,
        input: object = None,
        output: object = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"a Stage needs a non-empty name, got {name!r}")
        owner = f"stage {name!r}"
        self.name = name
        self.fn = require_callable(owner, "its fn", fn)
        self.input = input
        self.output = output
        self._checks = {
            "input": _checker(owner, "input", input),
            "output": _checker(owner, "output", output),
        }

    def __repr__(self) -> str:
        return f"Stage({self.name!r}, {describe(self.fn)})"

    def check(self, pipeline: str, side: Side, value: Any) -> Any:
        """``value`` validated for ``side``; raises :class:`StageValidationError`."""
        check, against = self._checks[side]
        if check is None:
            return value
        try:
            return check(value)
        except Exception as exc:
            ctx = context()
            raise StageValidationError(
                f"pipeline {pipeline!r}, stage {self.name!r}: {side} failed validation "
                f"{against}: {_summary(exc)}",
                flow=pipeline,
                run_id=ctx.run_id,
                step=self.name,
                attempt=ctx.attempt,
            ) from exc


def _as_stage(item: object, position: int) -> Stage:
    if isinstance(item, Stage):
        return item
    if callable(item):
        name = getattr(item, "__name__", "")
        if name and name != "<lambda>":
            return Stage(name, item)
    raise DefinitionError(
        f"pipeline stage {position} is {item!r}: pass Stage(name, fn) or a named function"
    )


def pipeline(*stages: Stage | Callable[[Any], Any], name: str = "pipeline") -> Workflow:
    """A workflow running ``stages`` one after another, each receiving the previous
    stage's output; the run's result is the last stage's output.

    The first stage receives the run input ``data``: ``pipeline(...).run({"data": x})``.
    A stage may also be a plain named function (``Stage(fn.__name__, fn)``). Each stage is
    a task of the workflow named after the stage, so events and timelines show stages.
    """
    if not stages:
        raise DefinitionError(f"pipeline {name!r} needs at least one stage")
    parts = [_as_stage(item, i) for i, item in enumerate(stages, 1)]
    names = [s.name for s in parts]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DefinitionError(
            f"pipeline {name!r}: stage names must be unique; repeated: {', '.join(twice)}"
        )
    wf = Workflow(name)
    previous: str | None = None
    for stage in parts:
        wf.add(
            _stage_task(name, stage, previous),
            name=stage.name,
            depends_on=() if previous is None else (previous,),
        )
        previous = stage.name
    return wf


def _stage_task(pipeline: str, stage: Stage, previous: str | None) -> Callable[..., Any]:
    pick = upstream_of(INPUT if previous is None else previous)

    def prepare(upstream: Mapping[str, Any]) -> Any:
        return stage.check(pipeline, "input", pick(upstream))

    def finish(value: Any) -> Any:
        return stage.check(pipeline, "output", value)

    return lift(stage.fn, prepare, finish, reads_input=previous is None)
