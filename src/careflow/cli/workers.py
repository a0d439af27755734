"""Several server processes, each with its own listening socket on one port (SO_REUSEPORT).

uvicorn's own ``--workers`` shares one listening socket; the process that wakes first
takes each new connection, so with keep-alive clients one worker can end up with most of
the connections while the other idles. With a socket per process and SO_REUSEPORT the
kernel spreads new connections evenly over the processes (by a hash of the client's
address and port). Linux and the BSDs have it; elsewhere ``serve`` falls back to uvicorn's
workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
from types import FrameType

__all__ = ["reuse_port_supported", "run_workers"]


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int) -> None:
    import uvicorn

    from careflow.api.asgi import app

    sock = _listen(host, port)
    config = uvicorn.Config(app, factory=True, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(count: int, host: str, port: int) -> int:
    """Start ``count`` worker processes and wait; SIGINT or SIGTERM stops them all."""
    context = multiprocessing.get_context("spawn")
    probe = _listen(host, port)  # fails here, once, if the port is taken
    probe.close()
    procs = [context.Process(target=_worker, args=(host, port), daemon=False) for _ in range(count)]
    for proc in procs:
        proc.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.join()
    # uvicorn re-raises the signal it shut down on, so a stopped worker ends "killed by
    # SIGTERM/SIGINT": that is a clean stop.
    stopped = (0, -signal.SIGTERM, -signal.SIGINT)
    return max((0 if p.exitcode in stopped else abs(p.exitcode or 0)) for p in procs)
