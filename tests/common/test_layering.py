"""Layers point down only (DESIGN): `common` imports no domain app, and no two apps import each
other, however the import is written (module level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "chegouhub"
APPS = sorted(p.name for p in ROOT.iterdir() if (p / "apps.py").exists())


def _imports(app: str) -> dict[str, set[str]]:
    """{imported app: {file:line, ...}} of every import in the app's code (migrations excluded)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "chegouhub" and len(parts) > 1 and parts[1] != app and parts[1] in APPS:
                    found.setdefault(parts[1], set()).add(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


GRAPH = {app: _imports(app) for app in APPS}


def test_common_imports_no_domain_app():
    assert GRAPH["common"] == {}


def test_no_two_apps_depend_on_each_other():
    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in GRAPH[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = {app: sorted(GRAPH[app]) for app in APPS if app in reach(app)}
    assert cycles == {}, {app: {dep: sorted(GRAPH[app][dep]) for dep in deps} for app, deps in cycles.items()}
