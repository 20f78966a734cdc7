"""Load user code by reference: the one loader behind the CLI, the worker and the server.

A reference is ``path/to/file.py:Name`` or ``package.module:Name``. Where it comes from
decides what it may name:

- a TARGET someone typed (``plait run flows/triage.py:Triage``): :func:`load_target`
  loads files and modules alike — whoever types it could run that code anyway;
- a reference read from stored data (the flow class a run's stored plan names):
  :func:`load_definition` imports modules only, and loads a file only when the operator
  allowed it (``PLAIT_ALLOW_PATHS``, ``--allow PATH``; with ``here``, as in the CLI, the
  current folder, whose modules import anyway). Anyone who can write one store row must
  not thereby choose the code every worker runs.

What a run stores is :func:`definition_ref` of what it runs: ``package.module:Name`` for
code that imports by name, the file's absolute path (``/abs/path/file.py:Name``) for a
script (``python script.py``) or a file loaded by path (``plait run file.py``), so that
every run can be resumed and recovered without naming its code.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shlex
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
_FROM_FILES: dict[str, ModuleType] = {}
"""Modules this loader imported from a file, by module name: they do not import by name."""
NAME_IT = "path/to/file.py:Name"
"""What :func:`resume_needs` answers when nothing stored names loadable code."""


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


def definition_ref(definition: Any) -> str:
    """The reference a run of ``definition`` stores, by which :func:`load_definition`
    finds its code again: ``package.module:Name`` for code that imports by name, else the
    file's absolute path, ``/abs/path/file.py:Name`` (a script run as ``python
    script.py``, a file loaded by path). ``""`` when no name reaches it (a class made in a
    function, a workflow that no module holds, code typed at a prompt)."""
    if isinstance(definition, Workflow):
        return _workflow_ref(definition)
    cls = definition if isinstance(definition, type) else type(definition)
    if not _DOTTED.fullmatch(cls.__qualname__):  # made in a function: "f.<locals>.Flow"
        return ""
    return _module_ref(cls.__module__, cls.__qualname__)


def _module_ref(module_name: str, name: str) -> str:
    module = sys.modules.get(module_name)
    if module is not None and _FROM_FILES.get(module_name) is module:
        return f"{Path(str(module.__file__)).resolve()}:{name}"
    if module_name != "__main__":
        return f"{module_name}:{name}"
    spec = getattr(module, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":  # python -m package.module
        return f"{spec.name}:{name}"
    file = getattr(module, "__file__", None)
    return f"{Path(file).resolve()}:{name}" if file else ""


def _workflow_ref(workflow: Workflow) -> str:
    """The module attribute that holds ``workflow``: looked for in the modules of its
    tasks, the main script and the files this loader loaded."""
    steps = workflow.__plait_steps__.values()
    near = [getattr(step.fn, "__module__", None) for step in steps]
    for module_name in dict.fromkeys([*near, "__main__", *_FROM_FILES]):
        module = sys.modules.get(module_name) if isinstance(module_name, str) else None
        if module is None:
            continue
        for attr, value in list(vars(module).items()):
            if value is workflow and _DOTTED.fullmatch(attr):
                return _module_ref(module.__name__, attr)
    return ""


def stored_ref(record: RunRecord) -> str:
    """The reference run ``record``'s stored plan names, or ``""`` when it names none
    that loads (see :func:`resume_needs`)."""
    try:
        return _stored_ref(record)
    except TargetError:
        return ""


def resume_needs(
    ref: str, *, allow: Iterable[str | os.PathLike[str]] = (), here: bool = True
) -> str:
    """What ``plait runs resume RUN_ID`` needs after the run id to load the stored
    reference ``ref`` here: ``""`` (it loads as it is), ``--allow FOLDER`` (a file not on
    the allow-list), or :data:`NAME_IT` (nothing stored reaches the code: name it)."""
    where, sep, name = ref.rpartition(":")
    if not (sep and where and _DOTTED.fullmatch(name)) or where == "__main__":
        return NAME_IT
    if _looks_like_path(where):
        path = Path(where).expanduser().resolve()
        if _is_allowed(path, _allowed(allow, here)):
            return ""
        return f"--allow {shlex.quote(str(path.parent))}"
    return "" if _DOTTED.fullmatch(where) else NAME_IT


def _allowed(allow: Iterable[str | os.PathLike[str]], here: bool) -> tuple[Path, ...]:
    """The allow-list; with ``here`` the current folder too: its modules import anyway."""
    listed = allowed_paths(allow)
    return (*listed, Path.cwd().resolve()) if here else listed


def _is_allowed(path: Path, allowed: tuple[Path, ...]) -> bool:
    return any(path == a or path.is_relative_to(a) for a in allowed)


def load_definition(
    record: RunRecord,
    *,
    allow: Iterable[str | os.PathLike[str]] | None = None,
    here: bool = False,
    files_here: bool | None = None,
) -> Any:
    """The flow or workflow run ``record``'s stored plan names (a flow class: a fresh
    instance of it).

    The stored reference may name an importable module (``package.module:Name``), or a
    file on the allow-list (``allow``, ``$PLAIT_ALLOW_PATHS``); a module not found on the
    import path is also looked for in allowed folders and as an allowed file's name.
    A module that only a stored row asks for is never one whose import runs a program
    (``pkg.__main__``) or a standard-library module not imported yet (``this``,
    ``venv``): importing is running its code. Anything else is refused with a
    :class:`TargetError` naming the run. With ``here`` (the CLI), modules in the current
    folder import, as with ``python -m``, and files under it load unless ``files_here``
    is False (``plait worker``: unattended, it loads files only from the allow-list).
    """
    ref = _stored_ref(record)
    if here:
        import_from_here()
    where, _, name = ref.rpartition(":")
    allowed = _allowed(allow or (), here if files_here is None else files_here)
    path = _allowed_file(where, allowed, record) if _looks_like_path(where) else None
    if path is None and not (_DOTTED.fullmatch(where) and _DOTTED.fullmatch(name)):
        raise TargetError(
            f"run {record.run_id} of {record.flow!r}: its stored plan names {ref!r}, which is "
            "neither a module reference (package.module:Name) nor a file; name the flow: "
            f"plait runs resume {record.run_id} {NAME_IT}"
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
            f"or {ALLOW_ENV}), or name it: plait runs resume {record.run_id} {NAME_IT}"
        ) from exc


def _stored_ref(record: RunRecord) -> str:
    """``module:Name`` or ``/path/file.py:Name`` from the stored plan (older runs of
    flows: from its step refs ``module:Class.method``)."""
    plan = record.plan or {}
    ref = str(plan.get("ref") or "")
    name_it = f"name it: plait runs resume {record.run_id} {NAME_IT}"
    if not ref and plan.get("kind") == "workflow":
        raise TargetError(
            f"run {record.run_id} of the workflow {record.flow!r} stores no module attribute "
            f"that holds the workflow (it was made in a function, or by an older plait); "
            f"{name_it}"
        )
    if not ref:
        refs = {str(s.get("ref", "")) for s in plan.get("steps", [])}
        owners = {r.rpartition(".")[0] for r in refs if ":" in r and "." in r}
        ref = owners.pop() if len(owners) == 1 else ""
    if ":" not in ref:
        raise TargetError(
            f"cannot tell from run {record.run_id}'s stored plan which flow to load "
            f"(its class was made in a function, or code typed at a prompt); {name_it}"
        )
    if ref.partition(":")[0] == "__main__":
        raise TargetError(
            f"run {record.run_id} was started by a script (python script.py) and stored as "
            f"{ref!r}, which no other process can import (an older plait stored no file "
            f"path); {name_it}"
        )
    return ref


def _allowed_file(where: str, allowed: tuple[Path, ...], record: RunRecord) -> Path:
    path = Path(where).expanduser().resolve()
    if _is_allowed(path, allowed):
        return path
    raise TargetError(
        f"run {record.run_id} of {record.flow!r}: its stored plan names the file {where!r}, "
        "which is not on the allow-list: plait loads a file named in stored data only from "
        "the files and folders the operator allows. If the file is yours, allow it "
        f"(--allow {path.parent} or {ALLOW_ENV}={path.parent}) or name it as TARGET "
        f"(plait runs resume {record.run_id} {NAME_IT}); if not, someone changed "
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
    if where not in sys.modules:
        if "__main__" in where.split("."):
            raise TargetError(
                f"module {where!r} is a program's entry point (importing it runs the "
                "program), which a stored run never names"
            )
        if top in sys.stdlib_module_names:
            raise TargetError(
                f"module {where!r} is part of Python's standard library, which a stored run "
                "never names (its flow lives in your code)"
            )
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
    _FROM_FILES[name] = module  # its runs store its path: it does not import by name
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
