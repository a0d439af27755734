"""The ``careflow`` command line (Typer + Rich).

Bad input prints one line naming the problem and exits with code 2; nothing is written.
"""

from __future__ import annotations

import os
import sys

import typer

# typer vendors click and re-exports only BadParameter of its exceptions.
from typer._click import exceptions as click

from careflow.cli.common import say_error
from careflow.cli.main import app

__all__ = ["app", "main"]


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: every error is one line on stderr.

    Click would print usage errors (an unknown flag, a value out of range) as a boxed
    block of five lines; here they are one line with exit code 2 like every other bad
    input. An unexpected error is one line with exit code 1 (``CAREFLOW_DEBUG=1`` shows
    the traceback).
    """
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="careflow", standalone_mode=False)
    except click.NoArgsIsHelpError:
        code = 2  # the help has been printed
    except typer.TyperException as exc:  # click's errors: a bad flag, value or command
        hint = " (see --help)" if isinstance(exc, click.UsageError) else ""
        say_error(exc.format_message() + hint)
        code = exc.exit_code
    except typer.Abort:
        say_error("aborted")
        code = 1
    except Exception as exc:
        if os.environ.get("CAREFLOW_DEBUG"):
            raise
        say_error(f"unexpected {type(exc).__name__}: {exc} (a bug; CAREFLOW_DEBUG=1 shows the traceback)")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
