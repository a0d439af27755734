"""The command line imports a command's module only when that command runs."""

from __future__ import annotations

import subprocess
import sys

import typer

from careflow.cli.main import LAZY, app

_PROBE = """
import sys
from careflow.cli import main
try:
    main({args!r})
except SystemExit:
    pass
print(sorted(m for m in ("ortools", "fastapi", "pandas", "careflow.cli.ihtc") if m in sys.modules))
"""


def _loaded_by(*args: str) -> str:
    done = subprocess.run([sys.executable, "-c", _PROBE.format(args=list(args))], capture_output=True,
                          text=True, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_every_lazy_command_loads_under_its_own_name() -> None:
    group = typer.main.get_command(app)
    commands = dict(group.commands.items())  # type: ignore[attr-defined]
    assert list(commands)[: len(LAZY)] == list(LAZY)
    assert {"serve", "demo", "codes"} <= commands.keys()
    assert all(command.name == name for name, command in commands.items())
    assert commands["ihtc"].commands.keys() >= {"score", "solve", "bench"}


def test_a_light_command_does_not_import_the_solver_or_the_api() -> None:
    assert _loaded_by("codes", "--json") == "[]"


def test_a_command_imports_its_own_module() -> None:
    assert "'careflow.cli.ihtc'" in _loaded_by("ihtc", "--help")
