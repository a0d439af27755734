"""The ``careflow`` command line (Typer + Rich).

Bad input prints one line naming the problem and exits with code 2; nothing is written.
"""

from __future__ import annotations

import sys

from careflow.cli.main import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
