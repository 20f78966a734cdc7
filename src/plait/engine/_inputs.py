"""The inputs a flow takes, and values typed as text (``--input key=value``, ``--set``,
``--value``) read with the type each one is for.

:func:`input_fields` lists what a definition's state or tasks take, with types and
defaults (``plait validate`` prints it). :func:`parse_pairs` reads ``key=value`` pairs
and :func:`parse_text` one value: JSON when it parses and fits the field's type, else the
text itself when that fits (``--input text=5`` is the string ``"5"`` for a ``str``
field, the number 5 for an ``int`` one); when neither fits, a ``ValueError`` says what
the JSON's problem is. A key whose type is not known is JSON when it parses, else text.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from plait.define import Flow, Workflow, is_model_type

Check = Callable[[Any], list[str]]
"""What is wrong with a value for its field (nothing: it fits)."""

REQUIRED: Any = inspect.Parameter.empty
"""The default of a field that has none."""


@dataclass(frozen=True, slots=True)
class InputField:
    """One input a definition takes: a state field, or a task parameter that only the
    run's inputs give. ``annotation`` is ``None`` when its type is not declared."""

    name: str
    annotation: Any = None
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def type_name(self) -> str:
        return type_name(self.annotation)

    def describe(self) -> str:
        """``name: type`` with ``= default`` or ``(required)``."""
        text = f"{self.name}: {self.type_name}"
        return text + (" (required)" if self.required else f" = {self.default!r}")


def type_name(annotation: Any) -> str:
    if annotation is None or annotation is inspect.Parameter.empty:
        return "any"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def input_fields(definition: Any) -> list[InputField]:
    """What runs of ``definition`` (a Flow class or instance, or a Workflow) take as
    inputs: the fields of a model state (its ``id`` is the run's), else the task
    parameters no dependency gives. Empty for a flow with dict state: it takes any keys."""
    state_type = state_type_of(definition)
    if state_type is not None and is_model_type(state_type):
        fields = state_type.model_fields  # type: ignore[attr-defined]
        return [
            InputField(name, info.annotation, REQUIRED if info.is_required() else _default(info))
            for name, info in fields.items()
            if name != "id"
        ]
    if isinstance(definition, Workflow):
        return _task_inputs(definition)
    return []


def state_fields(definition: Any) -> list[InputField]:
    """The keys of ``definition``'s state with their types (``--set``): the fields of a
    model state, else none known."""
    state_type = state_type_of(definition)
    if state_type is None or not is_model_type(state_type):
        return []
    fields = state_type.model_fields  # type: ignore[attr-defined]
    return [InputField(name, info.annotation, _default(info)) for name, info in fields.items()]


def state_type_of(definition: Any) -> type | None:
    """The state type of ``definition`` (a Flow instance or class, a Workflow): a pydantic
    model class, or ``None`` for a dict state."""
    if isinstance(definition, Flow):
        return definition._state_type_now()
    state_type = getattr(definition, "__plait_state_type__", None)
    return state_type if isinstance(state_type, type) else None


def _default(info: Any) -> Any:
    if info.default_factory is not None:
        return "<factory>"
    return info.default


def _task_inputs(workflow: Workflow) -> list[InputField]:
    found: dict[str, InputField] = {}
    for step in workflow.__plait_steps__.values():
        try:
            params = inspect.signature(step.fn).parameters.values()
        except (TypeError, ValueError):
            continue
        for p in params:
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.name in step.depends_on:
                continue
            if p.name == "id":
                continue
            annotation = None if p.annotation is p.empty else p.annotation
            field = InputField(p.name, annotation, p.default)
            seen = found.get(p.name)
            if seen is None or (field.required and not seen.required):
                found[p.name] = field
    return list(found.values())


def type_check(annotation: Any) -> Check | None:
    """A check by pydantic's validation of ``annotation`` (``None``: any value fits)."""
    from pydantic import TypeAdapter

    if annotation is None or annotation is inspect.Parameter.empty:
        return None
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    except Exception:  # a type pydantic cannot build a validator for
        return None

    def check(value: Any) -> list[str]:
        from pydantic import ValidationError

        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            return [_problem(err["loc"], err["msg"]) for err in exc.errors()]
        return []

    return check


def schema_check(schema: Mapping[str, Any] | None) -> Check | None:
    """A check by a JSON schema (``None``: no schema, any value fits)."""
    if not schema:
        return None
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)

    def check(value: Any) -> list[str]:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        return [_problem(tuple(err.absolute_path), err.message) for err in errors]

    return check


def _problem(loc: Iterable[Any], message: str) -> str:
    where = "/".join(str(p) for p in loc)
    return f"{where}: {message}" if where else message


def parse_text(raw: str, check: Check | None = None) -> Any:
    """The value text ``raw`` stands for: its JSON when it parses and fits ``check``, else
    the text itself when that fits. ``ValueError`` with the problems of the JSON (of the
    text, when it is not JSON) when neither fits."""
    try:
        data: Any = json.loads(raw)
    except (ValueError, RecursionError):
        parsed = False
    else:
        parsed = True
    if check is None:
        return data if parsed else raw
    problems = check(data) if parsed else []
    if parsed and not problems:
        return data
    as_text = check(raw)
    if not as_text:
        return raw
    raise ValueError("; ".join(problems if parsed else as_text))


def parse_pairs(
    pairs: Iterable[str],
    *,
    fields: Iterable[InputField] = (),
    option: str = "--input",
    base: str | None = None,
    base_option: str = "--inputs-json",
) -> dict[str, Any]:
    """``base`` (a JSON object, as ``--inputs-json`` gives it) updated by each ``key=value``
    of ``pairs``, each value read by :func:`parse_text` with its field's type (a value
    that fits it neither way is read without it, for the run's validation to refuse with
    the field's own message). A ``ValueError`` names the option and a malformed pair."""
    values: dict[str, Any] = {}
    if base:
        try:
            data = json.loads(base)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{base_option} is not valid JSON: {exc}") from None
        except RecursionError:
            raise ValueError(f"{base_option} nests too deeply to read") from None
        if not isinstance(data, dict):
            raise ValueError(f"{base_option} must be a JSON object, got {type(data).__name__}")
        values.update(data)
    types = {f.name: f.annotation for f in fields}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{option} {pair!r} is not key=value")
        try:
            values[key] = parse_text(raw, type_check(types.get(key)))
        except ValueError:  # fits neither way: the run's own validation says why
            values[key] = parse_text(raw)
    return values
