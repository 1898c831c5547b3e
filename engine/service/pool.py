"""The worker model: a fixed pool of worker processes, each with its own compiled packs.

Why processes: the rule engine's sessions belong to one compiled pack and must not be used by
two threads at once (a compiled pack takes a lock around each case), and its native calls
hold the interpreter while they run, so threads of one process would assess one case at a
time however many there are. Each worker process loads and compiles the packs once when it
starts (with every fiscal-year variant of their dated parameters), then assesses one request
at a time; N workers assess N requests at once, on N cores.

How a request flows: the service reads and checks the request in its event loop, then hands
the job to an idle worker over a pipe and waits for the answer in a thread (one per worker),
so the loop keeps serving. When every worker is busy a request waits in a queue of at most
`queue` requests; beyond that it is refused at once (503, saturated). The time limit counts
from the moment the job is queued: a request still waiting for a worker when it runs out is
refused as saturated, and a worker still busy with it is killed and replaced (504), so that a
case that takes too long never holds a worker. A worker that dies is replaced as well.

Workers ignore SIGINT and SIGTERM: a signal to the whole process group (Ctrl-C, a service
manager stopping the group) reaches the server, which finishes the requests in flight and then
stops its workers; a worker whose server has gone ends by itself (it watches the pipe to its
parent, and on Linux gets the kernel's parent-death signal).
"""
from __future__ import annotations

import asyncio
import collections
import multiprocessing
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

START_TIMEOUT = 300.0    # loading and compiling the packs, with every variant


class Saturated(Exception):
    """Every worker is busy and the queue is full, or the wait outlasted the time limit."""


class TimeLimit(Exception):
    """The job was still running when the time limit ran out; its worker was replaced."""


class WorkerDied(Exception):
    """The worker ended while it had the job (a crash of the rule engine: a bug)."""


class StartError(Exception):
    """A worker could not start: the packs did not load, or it did not answer."""


class Worker:
    """One worker process and the pipe to it; used by one thread at a time."""

    def __init__(self, origin: dict, context):
        self.conn, child = context.Pipe()
        main = threading.current_thread() is threading.main_thread()
        self.process = context.Process(target=worker_main, args=(child, origin, main),
                                       name="diplo-serve-worker", daemon=True)
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float) -> None:
        try:
            if not self.conn.poll(timeout):
                raise StartError(f"a worker did not start within {timeout:g} s")
            state, detail = self.conn.recv()
        except (EOFError, OSError):
            raise StartError("a worker ended while it started (see the log above)") from None
        if state != "ready":
            raise StartError(detail)

    def exchange(self, job: dict, timeout: float) -> dict[str, Any]:
        try:
            self.conn.send(job)
            if not self.conn.poll(max(timeout, 0.0)):
                raise TimeLimit()
            return self.conn.recv()
        except (EOFError, OSError):
            raise WorkerDied() from None

    def stop(self, timeout: float = 5.0) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


class WorkerPool:
    """`size` worker processes loading the packs that `origin` names (PackSet.origin)."""

    def __init__(self, origin: dict, *, size: int, time_limit: float, queue: int):
        self.origin = origin
        self.size = size
        self.time_limit = time_limit
        self.queue = queue
        # spawned, not forked: a fork would copy this process's threads' locks and the rule
        # engine's native state
        self._context = multiprocessing.get_context("spawn")
        self._threads = ThreadPoolExecutor(size + 1, thread_name_prefix="diplo-serve")
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._replacing: set[asyncio.Task] = set()
        self.started = False
        self.closing = False

    @property
    def alive(self) -> int:
        return len(self._idle) + len(self._busy)

    @property
    def busy(self) -> int:
        return len(self._busy)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def ready(self) -> bool:
        return self.started and not self.closing and self.alive > 0

    async def start(self) -> None:
        """Start every worker and wait until each has compiled its packs."""
        workers = [Worker(self.origin, self._context) for _ in range(self.size)]
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(*(loop.run_in_executor(
            self._threads, w.wait_ready, START_TIMEOUT) for w in workers),
            return_exceptions=True)
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            for worker in workers:
                worker.kill()
            raise failed if isinstance(failed, StartError) else StartError(str(failed))
        self._idle.extend(workers)
        self.started = True

    async def run(self, job: dict) -> dict[str, Any]:
        """The answer of a worker to `job`, within the time limit."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.time_limit
        worker = await self._acquire(self.time_limit)
        if deadline - loop.time() <= 0:   # the wait used the whole limit: nothing was sent
            self._release(worker)
            raise Saturated()
        # the exchange goes on to its end even if the client goes away meanwhile, so that
        # the worker is back in the pool (or replaced) whatever happens to this request
        task = asyncio.ensure_future(self._use(worker, job, deadline - loop.time()))
        return await asyncio.shield(task)

    async def _acquire(self, timeout: float) -> Worker:
        if self._idle:
            worker = self._idle.pop()
            self._busy.add(worker)
            return worker
        if len(self._waiters) >= self.queue or self.closing:
            raise Saturated()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                # a worker was handed over just as the wait ended: give it to the next
                self._release(waiter.result())
            else:
                waiter.cancel()
            if isinstance(exc, asyncio.TimeoutError):
                raise Saturated() from None
            raise
        finally:
            try:
                self._waiters.remove(waiter)
            except ValueError:
                pass

    def _release(self, worker: Worker) -> None:
        self._busy.discard(worker)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._busy.add(worker)
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    async def _use(self, worker: Worker, job: dict, timeout: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self._threads, worker.exchange, job, timeout)
        except (TimeLimit, WorkerDied):
            self._busy.discard(worker)
            worker.kill()
            self._replace()
            raise
        self._release(worker)
        return answer

    def _replace(self) -> None:
        if self.closing:
            return
        task = asyncio.ensure_future(self._start_one())
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _start_one(self) -> None:
        worker = Worker(self.origin, self._context)   # from the event loop's thread
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._threads, worker.wait_ready, START_TIMEOUT)
        except StartError as exc:
            worker.kill()
            print(f"diplo serve: a replacement worker did not start: {exc}", file=sys.stderr)
            return
        if self.closing:
            worker.stop()
        else:
            self._release(worker)

    async def close(self) -> None:
        """Stop every worker: the server has finished the requests in flight."""
        if self.closing and not (self._idle or self._busy):
            return
        self.closing = True
        for waiter in self._waiters:
            waiter.cancel()
        for task in list(self._replacing):
            task.cancel()
        workers = self._idle + list(self._busy)
        self._idle, self._busy = [], set()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._threads, w.stop) for w in workers))
        self._threads.shutdown(wait=False)


def worker_main(conn, origin: dict, from_main_thread: bool) -> None:
    """A worker process: load and compile the packs once, then answer jobs until told to
    stop (None) or the server goes."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from ..api import compile_years, end_with_parent
    end_with_parent(from_main_thread)
    from ..core.run import load_pack
    from ..errors import DiploError
    from . import jobs
    try:
        pack = load_pack(*origin["specs"], params=origin["params"] or None,
                         disable=origin["disable"] or None,
                         severity=origin["severity"] or None)
        compile_years(pack)
    except DiploError as exc:
        conn.send(("failed", str(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        conn.send(jobs.run(pack, job))


