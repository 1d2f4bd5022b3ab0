"""The package layers: core/ at the bottom, bot/ on top, nothing below importing upwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What each package may import from the project; bot/ (the top) may import all of them.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "storage": {"core"},
    "brain": {"core"},
    "connectors": {"core"},
}
PROJECT = {"core", "bot", "brain", "connectors", "storage"}


def _imported_packages(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add((node.module.split(".")[0], node.lineno))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_lower_packages_never_import_upwards(package: str) -> None:
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name, line in _imported_packages(path):
            if name in PROJECT and name != package and name not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from bot.app import App\n", encoding="utf-8")
    assert ("bot", 2) in _imported_packages(module)


def test_bench_never_imports_the_tests() -> None:
    """bench/ shares the fakes (imported as `fakes`), never a module of tests/."""
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports tests"
        for path in sorted((ROOT / "bench").rglob("*.py"))
        for name, line in _imported_packages(path)
        if name == "tests"
    ]
    wrong += [f"{p.relative_to(ROOT)} runs a tests module" for p in (ROOT / "bench").rglob("*.py") if '"tests.' in p.read_text()]
    assert not wrong, "\n".join(wrong)
