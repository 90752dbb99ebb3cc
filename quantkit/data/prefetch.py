"""Read ahead: produce the next items of an iterator in a background thread while the caller works.

Parquet decoding releases the GIL, so the next batch is decoded while the caller's kernel runs
on the current one. At most ``depth`` items wait in the queue (plus one being produced), so
memory stays bounded; errors are re-raised in the caller, in order.

Usage::

    from quantkit.data.prefetch import prefetch
    for batch in prefetch(rebatch(pieces, total, 1_000_000, columns)):
        kernel(batch)
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_POLL_S = 0.05  # how often a blocked producer checks whether the caller has gone away


def prefetch(items: Iterator[T], depth: int = 1, name: str = "quantkit-read") -> Iterator[T]:
    """Yield the items of ``items``, produced up to ``depth`` ahead in a daemon thread.

    Nothing starts before the first ``next()``; closing the returned generator (or dropping it)
    stops the thread after the item it is producing. Usage: ``for b in prefetch(batches): ...``
    """
    todo: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(items, todo, stop), name=name, daemon=True)
    thread.start()
    try:
        while True:
            more, item = todo.get()
            if not more:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]
            del item  # hold nothing while waiting for the next one
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                todo.get(timeout=_POLL_S)
        thread.join()


def _produce(
    items: Iterator[T], todo: queue.Queue[tuple[bool, object]], stop: threading.Event
) -> None:
    try:
        for item in items:
            if not _put(todo, (True, item), stop):
                return
        _put(todo, (False, None), stop)
    except BaseException as exc:  # handed to the caller, raised there
        _put(todo, (False, exc), stop)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # release open files when the caller stopped early


def _put(
    todo: queue.Queue[tuple[bool, object]], entry: tuple[bool, object], stop: threading.Event
) -> bool:
    while not stop.is_set():
        try:
            todo.put(entry, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False
