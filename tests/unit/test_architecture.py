"""Imports flow handlers → bot → storage, never back."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# bot/__main__.py is the composition root: it starts handlers/, so it may import them.
COMPOSITION_ROOT = ROOT / "bot" / "__main__.py"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_storage_imports_neither_bot_nor_handlers_nor_slack():
    for path in (ROOT / "storage").rglob("*.py"):
        bad = _imports(path) & {"bot", "handlers", "slack_bolt", "slack_sdk"}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_bot_does_not_import_handlers_or_bolt():
    for path in (ROOT / "bot").rglob("*.py"):
        if path == COMPOSITION_ROOT:
            continue
        bad = _imports(path) & {"handlers", "slack_bolt"}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_checks_see_real_imports():
    # Guard against a vacuous pass: these modules do import across layers.
    assert "storage" in _imports(ROOT / "bot" / "incidents.py")
    assert "bot" in _imports(ROOT / "handlers" / "server.py")
    assert "handlers" in _imports(COMPOSITION_ROOT)
