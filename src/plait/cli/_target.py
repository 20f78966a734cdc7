"""Load a command's TARGET: ``path/to/file.py:Name`` or ``package.module:Name``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from plait.core import PlaitError
from plait.define import Flow, Workflow

_FORM = "write TARGET as path/to/file.py:Name or package.module:Name"


class TargetError(PlaitError):
    """A TARGET names no file, module or attribute, or something that is not a flow."""


def is_definition(value: object) -> bool:
    """A Flow subclass, a Flow instance or a Workflow."""
    if isinstance(value, type):
        return issubclass(value, Flow) and value is not Flow
    return isinstance(value, Flow | Workflow)


def load_target(target: str, *, instantiate: bool = True) -> Any:
    """The flow or workflow ``target`` names; a Flow subclass is instantiated unless
    ``instantiate`` is false (compiling needs only the class).

    Without ``:Name`` the module must define exactly one flow or workflow.
    """
    where, sep, name = target.rpartition(":")
    if not sep or _looks_like_path(name):  # no ":Name" (a colon in a Windows path is not one)
        where, name = target, ""
    if not where:
        raise TargetError(f"TARGET {target!r} names no file or module; {_FORM}")
    module = _import(where)
    value = _lookup(module, where, name) if name else _only_definition(module, where)
    if not (instantiate and isinstance(value, type)):
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


def _looks_like_path(text: str) -> bool:
    return text.endswith(".py") or "/" in text or "\\" in text


def _import(where: str) -> ModuleType:
    if _looks_like_path(where) or Path(where).is_file():
        return _import_file(Path(where))
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # like `python -m`: modules beside you import
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
    except Exception as exc:
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
        if not isinstance(exc, Exception):
            raise
        raise _import_failed(str(path), exc) from exc
    return module


def _import_failed(where: str, exc: Exception) -> TargetError:
    return TargetError(
        f"importing {where!r} failed: {type(exc).__name__}: {exc} (run with --debug for the "
        "traceback)"
    )


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
