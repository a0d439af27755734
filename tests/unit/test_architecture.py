"""The domain imports nothing but the standard library and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import careflow.domain

DOMAIN = Path(careflow.domain.__file__).parent
MODULES = sorted(DOMAIN.glob("*.py"))


def imported(path: Path) -> set[str]:
    """Absolute module names imported by a file (relative imports stay in the package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def allowed(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names or (
        module == "careflow.domain" or module.startswith("careflow.domain."))


def test_the_domain_has_modules_to_check() -> None:
    assert len(MODULES) > 10


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_domain_module_imports_only_the_standard_library_and_the_domain(path: Path) -> None:
    foreign = sorted(m for m in imported(path) if not allowed(m))

    assert not foreign, f"careflow.domain.{path.stem} imports {foreign}"


def test_the_check_itself_catches_a_foreign_import(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.py"
    leaky.write_text("import json\nfrom sqlalchemy import select\nfrom careflow.services import ports\n")

    assert sorted(m for m in imported(leaky) if not allowed(m)) == ["careflow.services", "sqlalchemy"]
