"""Races for tests: run calls in threads released together, and collect every outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["at_once"]

T = TypeVar("T")


def at_once(calls: Sequence[Callable[[], T]], timeout: float = 120) -> tuple[list[T], list[BaseException]]:
    """Run each call in its own thread, all released by one barrier; returns what they
    returned and what they raised (every outcome, for the test to assert)."""
    barrier = threading.Barrier(len(calls))
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(call: Callable[[], T]) -> None:
        barrier.wait()
        try:
            result = call()
        except BaseException as exc:  # every outcome is asserted by the caller
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a racing thread hung"
    return results, errors
