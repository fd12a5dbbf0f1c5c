"""The one queue-and-sentinel worker thread pattern of the upload path.

A producer (the parser thread, tar and encryption) hands items to one or more threads
through a small bounded queue, so that both sides work at the same time and a slow consumer
(the disk, a sealing thread) slows the producer instead of filling RAM. The first error
of a consumer is kept, re-raised to the producer, and the rest of the queue is drained
without being handed on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Final, Generic, TypeVar

#: Items queued between the producer and the consumer threads (back-pressure).
QUEUE_DEPTH: Final = 4

Item = TypeVar("Item")


class _Stop:
    """The sentinel that ends one consumer thread."""


_STOP: Final = _Stop()


class WorkerThreads(Generic[Item]):
    """`put` hands items to `threads` threads that each pass them on to `consume`.

    With one thread the items are consumed in order; with more, in whatever order the
    threads take them (`consume` must not care, e.g. writing each at its own offset).
    `close` waits for every item queued and re-raises the first error; `abort` drops what
    is still queued and waits for the threads.
    """

    def __init__(self, consume: Callable[[Item], object], *, threads: int = 1, name: str) -> None:
        if threads < 1:
            raise ValueError("at least one thread")
        self._consume = consume
        self._queue: queue.Queue[Item | _Stop] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._dropping = False
        self._threads: list[threading.Thread] | None = [
            threading.Thread(target=self._loop, name=name, daemon=True) for _ in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, _Stop):
                return
            # After an error or an abort, keep taking items so that the producer never
            # blocks on a full queue, but hand none of them on.
            if self._error is None and not self._dropping:
                try:
                    self._consume(item)
                except BaseException as exc:  # noqa: BLE001 - re-raised by put/close
                    self._error = exc

    def put(self, item: Item) -> None:
        if self._threads is None:
            raise ValueError("worker threads stopped")
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def _stop(self) -> None:
        if self._threads is not None:
            for _ in self._threads:
                self._queue.put(_STOP)
            for thread in self._threads:
                thread.join()
            self._threads = None

    def close(self) -> None:
        """Wait until every queued item is consumed; re-raise the first error."""
        self._stop()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Drop the items still queued and stop the threads (never raises their error)."""
        self._dropping = True
        self._stop()


Bytes = bytes | bytearray | memoryview


class BackgroundWriter(WorkerThreads[Bytes]):
    """``write`` hands immutable bytes to a thread that passes them on to `target`, in
    order; `close` waits for it and re-raises its error. Lets a producer (tar, encryption)
    and a consumer (the disk) work at the same time.

    With ``handed_over=True`` the producer promises that a bytearray it writes is its own
    and never changed afterwards (as `leakdrop.sealing.SealWriter` does): it is queued by
    reference instead of copied.
    """

    def __init__(
        self,
        target: Callable[[Bytes], object],
        *,
        handed_over: bool = False,
        name: str = "background-writer",
    ) -> None:
        super().__init__(target, name=name)
        self._handed_over = handed_over

    def write(self, data: Bytes) -> int:
        if not (
            isinstance(data, bytes)
            or (self._handed_over and isinstance(data, bytearray))
            or (isinstance(data, memoryview) and isinstance(data.obj, bytes))
        ):  # queued by reference: must not change later (a view of bytes cannot)
            data = bytes(data)
        self.put(data)
        return len(data)
