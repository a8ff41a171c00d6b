"""Where points run: in this process (the default), in local worker processes (``--workers N``)
or as Ray tasks (``--ray auto`` / ``--ray ADDRESS``; the optional extra ``otc-emu[ray]``).

Every executor takes the same work, a function and a list of points, keeps at most ``slots``
points in flight and yields each point's outcome as it finishes, in completion order. Only
strings and plain data cross to a worker and back: a point's parameters go out, its result dict
or its error text comes back, and the driver alone writes the points file. A point that raises
is an outcome (its error), not the end of the run. A worker that dies loses no finished point:
local workers run each point that was in flight again alone on a fresh worker, so only the point
that kills its worker is recorded as failed; Ray runs the task once more, then records it as
failed. Ctrl-C stops the workers at once; the points in flight are lost and run again on the
next run.

Worker processes run the emulator on one host thread each (``RAYON_NUM_THREADS=1`` unless set):
the points are the parallelism, and results never depend on the thread count.
"""
from __future__ import annotations

import os
import signal
import traceback
from dataclasses import dataclass
from typing import Callable, Iterator

from .. import OtcError

__all__ = ["Finished", "Executor", "InProcess", "LocalWorkers", "RayCluster", "executor_for", "WORKER_LOST"]

#: How often Ray runs a task again after its worker died, before it is recorded as failed.
RETRIES_AFTER_LOST_WORKER = 1
WORKER_LOST = "the worker process running this point died"


@dataclass
class Finished:
    """One point's outcome: its index in the list given, and its result or its error text."""

    index: int
    result: dict | None = None
    error: str | None = None


def _error_text(e: BaseException) -> str:
    """The error as one line a person can act on: its type and message, and where it was raised."""
    where = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    at = f" (at {os.path.basename(where[0].filename)}:{where[0].lineno})" if where else ""
    return f"{type(e).__name__}: {e}{at}"


def measure_safely(measure: Callable[[dict], dict], params: dict) -> tuple[dict | None, str | None]:
    """``(measure(params), None)`` or ``(None, error text)``: what a worker sends back."""
    try:
        return measure(params), None
    except Exception as e:  # noqa: BLE001 - a failed point is recorded with its error; the sweep goes on
        return None, _error_text(e)


def _one_thread_per_worker() -> None:
    os.environ.setdefault("RAYON_NUM_THREADS", "1")


def _worker_init() -> None:
    """A local worker: Ctrl-C is the driver's to handle (it stops the workers), one host thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _one_thread_per_worker()


class Executor:
    """Runs ``measure`` on points; ``slots`` is how many are in flight at most."""

    name = "in-process"
    slots = 1

    def map(self, measure: Callable[[dict], dict], points: list[dict],
            started: Callable[[int], None] | None = None) -> Iterator[Finished]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class InProcess(Executor):
    """One point after another in this process (the emulator uses every core for each)."""

    def map(self, measure, points, started=None):
        for i, p in enumerate(points):
            if started is not None:
                started(i)
            result, error = measure_safely(measure, p)
            yield Finished(i, result, error)


class LocalWorkers(Executor):
    """``workers`` local processes (spawned, so nothing of the driver's state is shared)."""

    name = "local workers"

    def __init__(self, workers: int):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise OtcError(f"--workers must be a positive integer, got {workers!r}")
        self.slots = workers

    def describe(self) -> str:
        return f"{self.slots} local worker process{'es' if self.slots != 1 else ''}"

    def _pool(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(self.slots, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init)

    def map(self, measure, points, started=None):
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        queue = list(range(len(points)))[::-1]  # next point last: pop() takes it
        # Points in flight when a worker died: each runs again alone, so the one that kills its
        # worker is found (and recorded as failed) and the others are not lost.
        suspects: list[int] = []
        alone = None  # the suspect now running alone
        was_started = [False] * len(points)
        pool = self._pool()
        running: dict = {}

        def submit(i: int) -> None:
            running[pool.submit(measure_safely, measure, points[i])] = i
            if started is not None and not was_started[i]:  # a point run again was in flight all along
                started(i)
            was_started[i] = True

        try:
            while queue or suspects or running:
                if suspects and not running:
                    alone = suspects.pop()
                    submit(alone)
                elif not suspects:
                    while queue and len(running) < self.slots:
                        submit(queue.pop())
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    i = running.pop(fut)
                    try:
                        result, error = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        if i != alone:
                            suspects.append(i)
                            continue
                        result, error = None, WORKER_LOST  # it died running alone: this point kills it
                    if i == alone:
                        alone = None
                    yield Finished(i, result, error)
                if broken:  # every point still in flight went down with the pool
                    suspects.extend(running.values())
                    running.clear()
                    alone = None
                    _stop(pool)
                    pool = self._pool()
        finally:
            _stop(pool)


def _stop(pool) -> None:
    """Cancel what has not started and end the worker processes now (their points are lost)."""
    # The pool's own process table (a dict its manager thread shares) and the manager thread, taken
    # before shutdown() drops the executor's references to them: the manager can still start a
    # worker while it winds down, so the table is read again once the manager has ended.
    processes = getattr(pool, "_processes", None) or {}
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    stopped: dict = {}
    for _ in range(2):
        current = dict(processes)
        for pid, proc in current.items():
            if pid not in stopped and proc.is_alive():
                proc.terminate()
        stopped.update(current)
        if manager is not None:
            manager.join(timeout=5)
    for proc in stopped.values():
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)


def _ray_measure(measure, params):
    _one_thread_per_worker()  # before the worker's first launch creates the emulator's thread pool
    return measure_safely(measure, params)


class RayCluster(Executor):
    """Ray tasks, one CPU each, on a local Ray (``address="auto"``: joins one already running on
    this machine or starts one) or a cluster (``address="ray://..."`` or ``"HOST:PORT"``)."""

    name = "ray"

    def __init__(self, address: str = "auto", num_cpus: int | None = None):
        self.ray = require_ray()
        if not self.ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False}
            if address in (None, "", "auto"):
                # join the Ray this machine runs (ray start --head), else start a local one
                try:
                    self.ray.init(address="auto", **kwargs)
                except (ConnectionError, RuntimeError):
                    self.ray.init(num_cpus=num_cpus, **kwargs)
            else:
                self.ray.init(address=address, **kwargs)
        self.slots = max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        self._task = self.ray.remote(num_cpus=1, max_retries=RETRIES_AFTER_LOST_WORKER)(_ray_measure)

    def describe(self) -> str:
        return f"Ray ({self.slots} CPUs)"

    def map(self, measure, points, started=None):
        ray = self.ray
        lost = tuple(getattr(ray.exceptions, name) for name in ("WorkerCrashedError", "NodeDiedError", "ActorDiedError")
                     if hasattr(ray.exceptions, name))
        queue = list(range(len(points)))[::-1]
        running: dict = {}
        try:
            while queue or running:
                while queue and len(running) < self.slots:
                    i = queue.pop()
                    running[self._task.remote(measure, points[i])] = i
                    if started is not None:
                        started(i)
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    i = running.pop(ref)
                    try:
                        result, error = ray.get(ref)
                    except lost as e:  # the task's worker or node died, and so did its retry
                        result, error = None, f"{WORKER_LOST} ({type(e).__name__})"
                    except ray.exceptions.RayError as e:  # Ray could not run it (e.g. the code is not on the node)
                        result, error = None, f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[-1]}"
                    yield Finished(i, result, error)
        finally:
            for ref in running:
                ray.cancel(ref, force=True)


def require_ray():
    """The ray module, or a clear OtcError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise OtcError("--ray needs Ray, which is not installed; pip install 'otc-emu[ray]' (or pip install ray)") from None
    return ray


def executor_for(workers: int | None = None, ray: str | None = None) -> Executor:
    """The executor the options ask for: Ray when ``ray`` is given, local workers when ``workers``
    is, else in-process."""
    if ray is not None and workers is not None:
        raise OtcError("--ray and --workers are alternatives; give one")
    if ray is not None:
        return RayCluster(ray)
    if workers is not None:
        return LocalWorkers(workers)
    return InProcess()

