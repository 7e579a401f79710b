"""Dependencies point one way (STYLE.md, docs/architecture.md): a layer imports only the layers
below it. Read from the source with `ast`, so an import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# app → the apps of ours it may import (besides itself). Tests, migrations and management
# commands of an app follow the same rule; the project's settings/urls/conftest are outside it.
ALLOWED: dict[str, set[str]] = {
    "sla": set(),
    "org": set(),
    "notify": {"org"},
    "policies": {"sla", "org"},
    "cases": {"policies", "sla", "org", "notify"},
    "text": {"cases", "policies", "sla", "org", "notify"},
    "knowledge": {"text", "cases", "policies", "sla", "org", "notify"},
    # privacy (issue 11: retention, data-subject requests, export approvals) sits beside the pages
    # and the API: it works on cases through cases' services and workflow.
    "privacy": {"cases", "policies", "sla", "org", "notify"},
    "api": {"cases", "policies", "sla", "org", "notify", "privacy", "text", "knowledge", "reports", "portal",
            "channels", "documents"},
    # documents: the case page prints the policy's record form in its layout (issue 15, item 7)
    "web": {"cases", "policies", "sla", "org", "notify", "privacy", "documents"},
    "reports": {"cases", "policies", "sla", "org", "notify"},
    # issue 12: the public portal, the other channels (e-mail, call centre, upstream), formal documents
    "documents": {"cases", "policies", "sla", "org", "notify"},
    "portal": {"cases", "policies", "sla", "org", "notify", "documents"},
    "channels": {"cases", "policies", "sla", "org", "notify", "portal"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name.split(".")[1] for name in found if name.startswith("huiyin.") and name.count(".") >= 1}


# Project modules below every app: lean bulk SQL helpers (huiyin/db.py), and the SQL of the hottest
# reads compiled once per process (huiyin/kept.py).
SHARED = {"db", "kept"}


def test_each_app_imports_only_the_layers_below_it() -> None:
    wrong: list[str] = []
    for app, allowed in ALLOWED.items():
        for path in sorted((ROOT / app).rglob("*.py")):
            if "tests" in path.parts:
                continue  # tests build whole scenarios across apps
            for other in _imports(path) - allowed - SHARED - {app}:
                wrong.append(f"{path.relative_to(ROOT.parent)} imports huiyin.{other}")
    assert wrong == []
