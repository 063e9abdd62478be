"""The layers depend one way (README "Layers"): the meeting domain and the SFU never import a
transport (the web layer, federation, the bot), and the cascade link is given its
collaborators instead of reaching the application's keys."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parent.parent / "hub"
TRANSPORTS = ("hub.web", "hub.federation", "bridge")


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("layer", ["meetings", "sfu"])
def test_the_domain_and_the_media_layer_import_no_transport(layer: str) -> None:
    offending = {
        f"{path.relative_to(HUB.parent)}: {module}"
        for path in sorted((HUB / layer).rglob("*.py"))
        for module in imports_of(path)
        if module.startswith(TRANSPORTS)
    }
    assert offending == set()


def test_the_cascade_link_gets_its_collaborators_not_the_app() -> None:
    assert not any(
        module.startswith("hub.web") for module in imports_of(HUB / "federation" / "link.py")
    )
