"""Process pools whose workers die with the process that started them: a killed sweep client (or
`nblib run` with workers) takes its workers and their Jupyter kernels with it, instead of leaving
them to run the queued runs orphaned."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def _kill_own_tree() -> None:
    """SIGKILL every descendant of this process (kernels run in their own sessions), then it."""
    import psutil  # a dependency of ipykernel

    me = psutil.Process()
    procs = me.children(recursive=True)
    for proc in procs:  # frozen first, so none starts another child meanwhile
        try:
            proc.suspend()
        except psutil.Error:
            pass
    for proc in {*procs, *me.children(recursive=True)}:
        try:
            proc.kill()
        except psutil.Error:
            pass
    os.kill(os.getpid(), signal.SIGKILL)


def _watch_parent(parent: int, interval: float) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    _kill_own_tree()


def die_with_parent(interval: float = 0.5) -> None:
    """Pool-worker initializer: when the process that started this worker dies (a killed sweep
    client), kill the worker and its kernels rather than run the queued runs orphaned."""
    parent = multiprocessing.parent_process()  # gone already if getppid() differs from it
    threading.Thread(target=_watch_parent, args=(parent.pid if parent else os.getppid(), interval),
                     daemon=True, name="nblib-die-with-parent").start()


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes that die with this one (`die_with_parent`)."""
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                               initializer=die_with_parent)
