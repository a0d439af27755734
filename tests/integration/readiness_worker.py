"""A worker process for the crash test: books a CT for ``p1`` a few seconds ahead, starts
its readiness workflow and runs it until the test kills the process (``kill -9``).

Usage: python -m tests.integration.readiness_worker <database url> <tmp dir> <notifier file>
(the booking and workflow ids are written to <tmp dir>/booking_id once the workflow started)
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from tests.care_paths import FileNotifier, book_ct, configure, start_readiness

from careflow.domain.readiness import ReadinessPolicy
from careflow.services.workflows import runtime

# Reminders 16 s and 6 s before a slot 20 s ahead, the cut-off 3 s before: wide enough that
# a busy host still books and starts the workflow before the first reminder is due.
POLICY = ReadinessPolicy((timedelta(seconds=16), timedelta(seconds=6)), timedelta(seconds=3))
EXECUTOR = "readiness-crash"


def main(url: str, tmp: str, notes: str) -> None:
    app = configure(url, Path(tmp), FileNotifier(Path(notes)), readiness_policy=POLICY)
    runtime.launch(EXECUTOR, poll_seconds=0.1)
    booking_id = book_ct(app, "p1", seconds_ahead=20)
    wid = start_readiness(app, booking_id)
    Path(tmp, "booking_id.part").write_text(f"{booking_id}\n{wid}")
    Path(tmp, "booking_id.part").rename(Path(tmp, "booking_id"))  # whole, or not there
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(*sys.argv[1:4])
