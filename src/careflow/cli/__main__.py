"""``python -m careflow.cli``."""

from careflow.cli import main

main()
