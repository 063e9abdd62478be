"""hub/sfu/internals.py is the only place that reaches into aiortc, aioice and pylibsrtp, and
its start-up check covers every private name it uses: read from the source, so a new use
anywhere else, or one here that the check list misses, fails."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.errors import StartupError
from hub.sfu import internals
from hub.sfu.internals import DTLS, LIBRARIES, RELIED_ON, Attribute, Method, check_internals

ROOT = Path(__file__).resolve().parents[2]
INTERNALS = Path(internals.__file__).resolve()
# What the hub and the bot run. Not bench/: its synthetic clients (aiortc publishers and
# viewers outside the hub) hook their own aiortc objects, and the benchmark run checks them.
SCANNED = ("hub", "bridge")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def library_private_names() -> set[str]:
    """Every private name the libraries define or use on their own objects (`__x` in class
    C also as Python stores it, `_C__x`)."""
    names: set[str] = set()
    for library in LIBRARIES:
        package = importlib.import_module(library)
        assert package.__file__ is not None
        for path in Path(package.__file__).parent.rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf8"))
            for owner in ast.walk(tree):
                if not isinstance(owner, ast.ClassDef | ast.Module):
                    continue
                mangled = f"_{owner.name.lstrip('_')}" if isinstance(owner, ast.ClassDef) else ""
                for node in ast.walk(owner):
                    if isinstance(node, ast.Attribute):
                        name = node.attr
                    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                        name = node.name
                    else:
                        continue
                    if _private(name):
                        names.add(name)
                        if mangled and name.startswith("__"):
                            names.add(mangled + name)
    return names


def foreign_accesses(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, name) of each private attribute read or written on an object that is not
    `self` or `cls`, named in getattr/setattr/hasattr, or imported from a library."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                yield node.lineno, node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            yield node.lineno, node.args[1].value
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            yield from ((node.lineno, alias.name) for alias in node.names if _private(alias.name))


@pytest.fixture(scope="module")
def private_names() -> set[str]:
    return library_private_names()


def test_the_installed_libraries_have_everything_the_sfu_relies_on() -> None:
    assert internals.missing(RELIED_ON) == []
    check_internals()


def test_a_missing_name_stops_the_start_with_one_line() -> None:
    gone = (*RELIED_ON, Attribute(DTLS, "_gone"), Method("aioice.nothing:Here", "at_all"))
    with pytest.raises(StartupError) as raised:
        check_internals(gone)
    message = str(raised.value)
    assert "\n" not in message
    assert message.endswith(
        "lack what the SFU relies on (hub/sfu/internals.py; pinned: aiortc 1.16, aioice 0.13):"
        " RTCDtlsTransport._gone, Here.at_all (no aioice.nothing:Here)"
    )
    assert message.startswith("aiortc 1.16.")


def test_the_check_is_not_fooled_by_a_name_the_library_reads_elsewhere() -> None:
    # `_track_id` is set by replaceTrack, not the constructor: the check looks where it is read.
    assert internals.missing([Attribute("aiortc.rtcrtpsender:RTCRtpSender", "_track_id")]) == [
        "RTCRtpSender._track_id"
    ]


def test_every_private_name_internals_uses_is_on_the_check_list(private_names: set[str]) -> None:
    tree = ast.parse(INTERNALS.read_text(encoding="utf8"))
    used = {name for _, name in foreign_accesses(tree) if name in private_names}
    used |= {  # a name spelled as a string, e.g. a name-mangled one for getattr
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in private_names
    }
    checked = {entry.name for entry in RELIED_ON}
    assert used, "the scan found nothing: it is broken"
    assert used - checked == set()


def test_every_name_on_the_check_list_is_used(private_names: set[str]) -> None:
    tree = ast.parse(INTERNALS.read_text(encoding="utf8"))
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    strings = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    unused = {entry.name for entry in RELIED_ON} - attributes - strings
    assert unused == set(), "listed but no longer used: drop them from RELIED_ON"


def test_nothing_else_touches_a_library_private_name(private_names: set[str]) -> None:
    found = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.resolve() == INTERNALS:
                continue
            tree = ast.parse(path.read_text(encoding="utf8"))
            found += [
                f"{path.relative_to(ROOT)}:{line}: {name}"
                for line, name in foreign_accesses(tree)
                if name in private_names
            ]
    assert found == [], "go through hub/sfu/internals.py"
