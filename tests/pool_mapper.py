"""A real process-pool mapper for tests: each item runs in another process, as the schedulers do.

``fn`` is serialized with cloudpickle (as dask and the pipeline's process scheduler send it) and
every item with pickle, so a mapped function that captures an open file, a lock, a generator or
other unpicklable state fails here. ``sizes`` records, per map, ``desc``, the number of items and
the pickled bytes of ``fn`` and of the largest item, for the tests that bound what is sent.
"""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import cloudpickle


def _call(payload: bytes, item):
    return cloudpickle.loads(payload)(item)


class PoolMapper:
    """``map(fn, items)`` on a ProcessPoolExecutor of ``workers`` forkserver processes (results in item order)."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self.sizes: list[tuple[str, int, int, int]] = []
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn, items, *, desc=""):
        items = list(items)
        payload = cloudpickle.dumps(fn)
        self.sizes.append((desc, len(items), len(payload), max((len(pickle.dumps(i)) for i in items), default=0)))
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("forkserver"))
        return list(self._pool.map(_call, [payload] * len(items), items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
