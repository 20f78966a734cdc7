"""Load user code by reference: the one loader behind the CLI, the worker and the server.

A reference is ``path/to/file.py:Name`` or ``package.module:Name``. Where it comes from
decides what it may name:

- a TARGET someone typed (``plait run flows/triage.py:Triage``): :func:`load_target`
  loads files and modules alike — whoever types it could run that code anyway;
- a reference read from stored data (the flow class a run's stored plan names):
  :func:`load_definition` imports modules only, and loads a file only when the operator
  allowed it (``PLAIT_ALLOW_PATHS``, ``--allow PATH``). Anyone who can write one store row
  must not thereby choose the code every worker runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from plait.core import PlaitError
from plait.define import Flow, Workflow
from plait.runtime import RunRecord

ALLOW_ENV = "PLAIT_ALLOW_PATHS"
"""Files and folders (separated by ``os.pathsep``) whose code stored runs may name."""

_FORM = "write TARGET as path/to/file.py:Name or package.module:Name"
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class TargetError(PlaitError):
    """A reference names no file, module or attribute, something that is not a flow, or
    (read from stored data) a file that is not on the allow-list."""


def is_definition(value: object) -> bool:
    """A Flow subclass, a Flow instance or a Workflow."""
    if isinstance(value, type):
        return issubclass(value, Flow) and value is not Flow
    return isinstance(value, Flow | Workflow)


def load_target(target: str, *, instantiate: bool = True) -> Any:
    """The flow or workflow a TARGET someone typed names; a Flow subclass is
    instantiated unless ``instantiate`` is false (compiling needs only the class).

    Without ``:Name`` the module must define exactly one flow or workflow. Never pass a
    reference read from stored data: use :func:`load_definition`.
    """
    where, sep, name = target.rpartition(":")
    if not sep or _looks_like_path(name):  # no ":Name" (a colon in a Windows path is not one)
        where, name = target, ""
    if not where:
        raise TargetError(f"TARGET {target!r} names no file or module; {_FORM}")
    if _looks_like_path(where) or Path(where).is_file():
        module = _import_file(Path(where))
    else:
        import_from_here()
        module = _import_module(where)
    value = _lookup(module, where, name) if name else _only_definition(module, where)
    return _instance(value) if instantiate else value


def import_from_here() -> None:
    """Let modules in the current folder import, as ``python -m`` does."""
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))


def allowed_paths(extra: Iterable[str | os.PathLike[str]] = ()) -> tuple[Path, ...]:
    """The files and folders whose code stored runs may name: ``$PLAIT_ALLOW_PATHS``
    and ``extra`` (``--allow``), resolved against the current folder."""
    listed = [p for p in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if p.strip()]
    return tuple(Path(p).expanduser().resolve() for p in [*listed, *extra])


def load_definition(
    record: RunRecord,
    *,
    allow: Iterable[str | os.PathLike[str]] | None = None,
    here: bool = False,
) -> Any:
    """A fresh instance of the flow class run ``record``'s stored plan names.

    The stored reference may name an importable module (``package.module:Class``), or a
    file on the allow-list (``allow``, ``$PLAIT_ALLOW_PATHS``); a module not found on the
    import path is also looked for in allowed folders and as an allowed file's name.
    Anything else is refused with a :class:`TargetError` naming the run. With ``here``,
    modules in the current folder import too, as with ``python -m`` (the CLI).
    """
    ref = _stored_ref(record)
    if here:
        import_from_here()
    where, _, name = ref.rpartition(":")
    allowed = allowed_paths(allow or ())
    path = _allowed_file(where, allowed, record) if _looks_like_path(where) else None
    if path is None and not (_DOTTED.fullmatch(where) and _DOTTED.fullmatch(name)):
        raise TargetError(
            f"run {record.run_id} of {record.flow!r}: its stored plan names {ref!r}, which is "
            "neither a module reference (package.module:Class) nor a file; name the flow: "
            f"plait runs resume {record.run_id} path/to/file.py:Name"
        )
    try:
        if path is None:
            module = _import_stored_module(where, allowed)
        else:
            module = _loaded_file(path) or _import_file(path)
        return _instance(_lookup(module, where, name))
    except TargetError as exc:
        reason = str(exc).removesuffix(f"; {_FORM}")
        raise TargetError(
            f"cannot load the flow {ref!r} of run {record.run_id}: {reason}; run where that "
            "code imports (its folder, or PYTHONPATH), allow its file or folder (--allow PATH "
            f"or {ALLOW_ENV}), or name it: plait runs resume {record.run_id} "
            "path/to/file.py:Name"
        ) from exc


def _stored_ref(record: RunRecord) -> str:
    """``module:Class`` from the stored plan (older runs: from its step refs
    ``module:Class.method``)."""
    plan = record.plan or {}
    if plan.get("kind") == "workflow":
        raise TargetError(
            f"run {record.run_id} is a run of the workflow {record.flow!r}, which its stored "
            "plan cannot name (workflows are objects, not classes): name it as TARGET "
            "(plait runs resume RUN_ID path/to/file.py:Name), or recover it with load=..."
        )
    refs = {str(s.get("ref", "")) for s in plan.get("steps", [])}
    owners = {ref.rpartition(".")[0] for ref in refs if ":" in ref and "." in ref}
    if plan.get("ref"):
        owners = {str(plan["ref"])}
    if len(owners) != 1 or ":" not in (ref := owners.pop()):
        raise TargetError(
            f"cannot tell from run {record.run_id}'s stored plan which flow class to load; "
            "give TARGET (plait runs resume RUN_ID path/to/file.py:Name)"
        )
    return ref


def _allowed_file(where: str, allowed: tuple[Path, ...], record: RunRecord) -> Path:
    path = Path(where).expanduser().resolve()
    if any(path == a or path.is_relative_to(a) for a in allowed):
        return path
    raise TargetError(
        f"run {record.run_id} of {record.flow!r}: its stored plan names the file {where!r}, "
        "which is not on the allow-list: plait loads a file named in stored data only from "
        "the files and folders the operator allows. If the file is yours, allow it "
        f"(--allow {path.parent} or {ALLOW_ENV}={path.parent}) or name it as TARGET "
        f"(plait runs resume {record.run_id} path/to/file.py:Name); if not, someone changed "
        "the stored run"
    )


def _loaded_file(path: Path) -> ModuleType | None:
    """The module already loaded from ``path`` (a worker loads a run's file once)."""
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) == str(path):
            return module
    return None


def _import_stored_module(where: str, allowed: tuple[Path, ...]) -> ModuleType:
    top = where.partition(".")[0]
    try:
        return _import_module(where)
    except TargetError:
        if top in sys.modules or importlib.util.find_spec(top) is not None:
            raise
        for place in allowed:  # a module that is an allowed file, or in an allowed folder
            if place.is_file() and place.stem == where and place.suffix == ".py":
                return _import_file(place)
            if (place / f"{top}.py").is_file() or (place / top / "__init__.py").is_file():
                if str(place) not in sys.path:
                    sys.path.append(str(place))  # last: it shadows no other module
                return _import_module(where)
        raise


def _looks_like_path(text: str) -> bool:
    return text.endswith(".py") or "/" in text or "\\" in text


def _import_module(where: str) -> ModuleType:
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (where == exc.name or where.startswith(exc.name + ".")):
            raise TargetError(
                f"cannot find module {where!r} (no module named {exc.name!r}); check the "
                f"spelling and that it is importable from here, or give a file path; {_FORM}"
            ) from exc
        raise _import_failed(where, exc) from exc
    except PlaitError:
        raise
    except (Exception, SystemExit) as exc:  # a module that exits on import is broken
        raise _import_failed(where, exc) from exc


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        hint = "it is a directory" if path.is_dir() else "no such file"
        raise TargetError(f"cannot load {str(path)!r}: {hint}; {_FORM}")
    path = path.resolve()
    name = path.stem if path.stem.isidentifier() else "plait_target"
    if name in sys.modules:
        name = f"plait_target_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot load {str(path)!r} as Python source; {_FORM}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic and dataclasses resolve annotations through it
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so the file can import its siblings
    try:
        spec.loader.exec_module(module)
    except PlaitError:
        sys.modules.pop(name, None)
        raise
    except BaseException as exc:
        sys.modules.pop(name, None)
        if not isinstance(exc, Exception | SystemExit):
            raise
        raise _import_failed(str(path), exc) from exc
    return module


def _import_failed(where: str, exc: BaseException) -> TargetError:
    return TargetError(
        f"importing {where!r} failed: {type(exc).__name__}: {exc} (run with --debug for the "
        "traceback)"
    )


def _instance(value: Any) -> Any:
    if not isinstance(value, type):
        return value
    try:
        return value()
    except PlaitError:
        raise
    except Exception as exc:
        raise TargetError(
            f"cannot create {value.__name__}(): {type(exc).__name__}: {exc}; give its "
            "__init__ defaults, or name an instance of it in TARGET"
        ) from exc


def _lookup(module: ModuleType, where: str, name: str) -> Any:
    value: Any = module
    for part in name.split("."):
        if not hasattr(value, part):
            found = sorted(_definitions(module))
            hint = f"; it defines: {', '.join(found)}" if found else "; it defines no flows"
            raise TargetError(f"{where!r} has no attribute {name!r}{hint}")
        value = getattr(value, part)
    if not is_definition(value):
        what = f"the class {value.__name__}" if isinstance(value, type) else type(value).__name__
        raise TargetError(
            f"{where}:{name} is {what}, not a flow: TARGET must name a Flow subclass, a Flow "
            "instance or a Workflow"
        )
    return value


def _definitions(module: ModuleType) -> dict[str, Any]:
    return {
        attr: value
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and is_definition(value)
        and (not isinstance(value, type) or value.__module__ == module.__name__)
    }


def _only_definition(module: ModuleType, where: str) -> Any:
    found = _definitions(module)
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        raise TargetError(f"{where!r} defines no Flow subclass or Workflow; {_FORM}")
    raise TargetError(
        f"{where!r} defines several flows ({', '.join(sorted(found))}); pick one with {where}:Name"
    )
