"""Where the hub's non-Python files live: beside the package in a checkout, inside it in a wheel."""

from __future__ import annotations

from pathlib import Path

from hub.errors import StartupError

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Path of migrations/, templates/ or static/; StartupError if the install lacks it."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise StartupError(f"{name}/ folder not found beside {_PACKAGE}: the install is incomplete")
