"""Optional dependencies: import them, or say which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from plait.core._errors import MissingExtraError


def require_extra(module: str, extra: str, *, feature: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``plait[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = feature or module
        raise MissingExtraError(
            f"{what} needs the optional package {module!r}: run  pip install 'plait[{extra}]'"
        ) from exc
