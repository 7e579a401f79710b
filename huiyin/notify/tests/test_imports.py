"""`notify` never imports `cases` (docs/architecture.md): it receives plain data, also when it
renders a text at delivery time. Checked on the source, so an import inside a function counts."""

from __future__ import annotations

import ast
from pathlib import Path

NOTIFY = Path(__file__).resolve().parents[1]
FORBIDDEN = ("huiyin.cases", "huiyin.api", "huiyin.web", "huiyin.policies", "huiyin.reports", "huiyin.portal")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against its package."""
    package = ".".join(("huiyin", *path.relative_to(NOTIFY.parent).with_suffix("").parts[:-1]))
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from huiyin import cases`
    return found


def _offending(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path.relative_to(NOTIFY.parent)}: {module}"
        for path in files
        for module in imported_modules(path)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    )


def test_notify_imports_nothing_of_the_apps_that_use_it() -> None:
    code = [p for p in NOTIFY.rglob("*.py") if "tests" not in p.relative_to(NOTIFY).parts]
    assert len(code) > 20  # the walk found the package
    offending = _offending(code, FORBIDDEN)
    assert not offending, "notify must receive plain data, not import these:\n" + "\n".join(offending)


def test_notify_tests_do_not_need_cases_either() -> None:
    tests = sorted((NOTIFY / "tests").rglob("*.py"))
    assert not _offending(tests, ("huiyin.cases",))


def test_the_check_sees_relative_and_package_imports() -> None:
    sample = NOTIFY / "channels" / "webhook.py"
    assert "huiyin.notify.models" in imported_modules(sample)
    assert "huiyin.notify.channels" in imported_modules(sample)  # `from . import DeliveryError`
    assert "huiyin.notify.models" in imported_modules(NOTIFY / "texts.py")  # `from .models import …`
