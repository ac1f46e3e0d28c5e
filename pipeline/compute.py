"""The scheduler: where the work that a stage maps over banks, windows, years or grids runs.

The ``compute`` params group is read by the runner of every stage (docs/scale.md):

* ``scheduler: serial`` runs every item in the stage's process;
* ``scheduler: processes`` (default) spreads chunks of items over a
  :class:`concurrent.futures.ProcessPoolExecutor` of ``workers`` processes on this machine;
* ``scheduler: dask`` submits the chunks to a dask.distributed cluster: the one at
  ``address`` (``tcp://host:8786``, e.g. started by dask-jobqueue or dask-gateway), or a
  ``LocalCluster`` of ``workers`` single-threaded worker processes when ``address`` is null.

Results never depend on the scheduler: every item is computed from its own inputs alone, the
results come back in item order, and every chunk runs with one BLAS/OpenMP thread
(``threadpoolctl``, whatever the worker's environment), so the artifacts are byte-identical
for any scheduler and worker count. That is why ``compute`` is not a DVC parameter of the
stages and is not written into the artifacts' provenance: changing it never reruns a stage.

The science functions see only the narrow :class:`measures.core.mapping.Mapper` hook.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from measures.core.config import Config, ConfigError, check_choice, check_range
from measures.core.mapping import Mapper

SCHEDULERS = ("serial", "processes", "dask")
#: tasks per worker when ``compute.chunk`` is null: enough to balance items of unequal cost (report sections, years)
CHUNKS_PER_WORKER = 8
#: fewer items than this run in the stage's process: starting workers would cost more than it saves
MIN_PARALLEL_ITEMS = 2


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComputeConfig(Config):
    """``compute``: where mapped work runs (docs/scale.md).

    Parameters
    ----------
    scheduler : {"serial", "processes", "dask"}
        ``processes``: a process pool on this machine; ``dask``: a dask.distributed cluster.
    workers : int or None
        Worker processes (``processes``, or the ``LocalCluster`` of ``dask``); None = the cores
        this process may use. Ignored with an ``address``: the cluster has its own workers.
    address : str or None
        ``dask`` only: the scheduler address of an existing cluster, ``tcp://host:8786``
        (None = start a ``LocalCluster``).
    chunk : int or None
        Items per task (None = about ``8`` tasks per worker), so that tasks are not tiny.
    """

    scheduler: str = "processes"
    workers: int | None = None
    address: str | None = None
    chunk: int | None = None

    def validate(self) -> None:
        check_choice("scheduler", self.scheduler, SCHEDULERS)
        if self.workers is not None:
            check_range("workers", self.workers, low=1, integer=True)
        if self.chunk is not None:
            check_range("chunk", self.chunk, low=1, integer=True)
        if self.address is not None:
            if self.scheduler != "dask":
                raise ConfigError(f"address={self.address!r} needs scheduler='dask' (got scheduler={self.scheduler!r}); "
                                  "allowed: null, or a dask scheduler address such as 'tcp://host:8786'")
            if not isinstance(self.address, str) or "://" not in self.address:
                raise ConfigError(f"address={self.address!r} is not a dask scheduler address; allowed: null or "
                                  "'<protocol>://host:port', e.g. 'tcp://10.0.0.5:8786'")

    def n_workers(self) -> int:
        """The worker count: ``workers``, else the cores available to this process."""
        if self.workers is not None:
            return self.workers
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            return os.cpu_count() or 1


def chunks(items: Sequence[Any], *, size: int | None, workers: int) -> list[list[Any]]:
    """``items`` cut into consecutive chunks of ``size`` (None: about 8 chunks per worker)."""
    if size is None:
        size = max(1, math.ceil(len(items) / (workers * CHUNKS_PER_WORKER)))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


#: a pool's function larger than this goes to the workers once per map (a file), not with every chunk
LARGE_PAYLOAD = 1 << 20
_LOADED: dict[str, Any] = {}  # worker side: the function of the current map, by digest


def run_chunk(payload: bytes | tuple[str, str], items: list[Any]) -> list[Any]:
    """Apply the cloudpickled function ``payload`` to ``items`` with one BLAS thread (in a worker).

    ``payload`` is the pickle itself, or ``(digest, path)`` of a file holding it: a large
    function (its bound arrays) is then read and unpickled once per worker and map.
    """
    import cloudpickle
    from threadpoolctl import threadpool_limits

    if isinstance(payload, tuple):
        digest, path = payload
        if digest not in _LOADED:
            _LOADED.clear()
            with open(path, "rb") as fh:
                _LOADED[digest] = cloudpickle.loads(fh.read())
        fn = _LOADED[digest]
    else:
        fn = cloudpickle.loads(payload)
    with threadpool_limits(limits=1):
        return [fn(item) for item in items]


def _bar(total: int, stage: str, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{stage}: {desc}" if desc else stage, file=sys.stderr, delay=2.0,
                mininterval=1.0, leave=False, disable=None if sys.stderr.isatty() else True)


class SerialMapper:
    """Every item in this process, in order, with a progress bar for loops longer than two seconds."""

    def __init__(self, stage: str = "") -> None:
        self.stage = stage

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *, desc: str = "") -> list[Any]:
        items = list(items)
        with _bar(len(items), self.stage, desc) as bar:
            out = []
            for item in items:
                out.append(fn(item))
                bar.update()
            return out

    def close(self) -> None:
        return None


class _ChunkedMapper:
    """Shared logic of the pool mappers: chunk, submit, gather in item order."""

    def __init__(self, config: ComputeConfig, stage: str = "") -> None:
        self.config = config
        self.stage = stage
        self.workers = config.n_workers()

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *, desc: str = "") -> list[Any]:
        items = list(items)
        if len(items) < MIN_PARALLEL_ITEMS or (self.workers < 2 and self.config.address is None):
            return SerialMapper(self.stage).map(fn, items, desc=desc)
        import cloudpickle

        parts = chunks(items, size=self.config.chunk, workers=self.workers)
        payload = cloudpickle.dumps(fn)
        results: list[list[Any] | None] = [None] * len(parts)
        with _bar(len(items), self.stage, desc) as bar:
            for index, value in self._run(payload, parts):
                results[index] = value
                bar.update(len(value))
        return [value for part in results for value in part]  # type: ignore[union-attr]

    def _run(self, payload: bytes, parts: list[list[Any]]) -> Iterator[tuple[int, list[Any]]]:
        raise NotImplementedError


class ProcessMapper(_ChunkedMapper):
    """Chunks of items on a :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` processes.

    The runner starts the pool (:meth:`start`) when the stage begins, before it reads any
    input: on Linux the workers are then forked from a process that has imported the stage's
    science and runs no other thread, so they start in milliseconds and import nothing. Where
    forking is not safe (another OS, or a process that already runs threads, as under a test
    runner) they start from a fork server instead, which imports the array stack once.
    """

    _pool = None

    def start(self) -> None:
        """Start the worker processes now (a no-op for fewer than two workers)."""
        if self._pool is None and self.workers >= 2:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            method = "fork" if _fork_is_safe() else "forkserver"
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                context.set_forkserver_preload(["numpy", "pandas", "scipy.linalg", "pipeline.compute"])
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
            with warnings.catch_warnings():  # Python >= 3.12 counts native threads too (see _fork_is_safe)
                warnings.filterwarnings("ignore", message=".*multi-threaded.*fork", category=DeprecationWarning)
                self._pool.submit(int).result()  # launches every worker (all at once with fork)

    def _run(self, payload, parts):
        from concurrent.futures import as_completed

        self.start()
        with _shared(payload) as sent:
            futures = {self._pool.submit(run_chunk, sent, part): i for i, part in enumerate(parts)}
            for future in as_completed(futures):
                yield futures[future], future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskMapper(_ChunkedMapper):
    """Chunks of items as tasks of a dask.distributed cluster (``address``, else a ``LocalCluster``).

    The function and its bound arrays are scattered to every worker once per map; each task
    receives only its chunk of items. A ``LocalCluster`` has ``workers`` single-threaded processes.
    """

    _client = None
    _cluster = None

    def client(self):
        """The dask client, connected on first use."""
        if self._client is None:
            from distributed import Client, LocalCluster

            if self.config.address is not None:
                try:
                    self._client = Client(self.config.address)  # timeout: distributed.comm.timeouts.connect
                except (OSError, TimeoutError) as exc:
                    raise ConfigError(f"compute: address={self.config.address!r}: cannot reach a dask scheduler "
                                      f"there ({exc}); start one (dask scheduler) or set address: null") from None
                self.workers = max(1, sum(self._client.nthreads().values()))
            else:
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None, silence_logs=40)
                self._client = Client(self._cluster)
        return self._client

    def _run(self, payload, parts):
        from distributed import as_completed

        client = self.client()
        shared = client.scatter(payload, broadcast=True, hash=False)
        futures = client.map(run_chunk, [shared] * len(parts), parts, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            yield index[future.key], future.result()
            future.release()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


@contextmanager
def _shared(payload: bytes) -> Iterator[bytes | tuple[str, str]]:
    """``payload``, or for a large one ``(digest, path)`` of a private temporary file holding it."""
    if len(payload) <= LARGE_PAYLOAD:
        yield payload
        return
    import hashlib
    import tempfile

    fd, path = tempfile.mkstemp(prefix="bsr-map-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        yield hashlib.sha256(payload).hexdigest(), path
    finally:
        os.unlink(path)


def _fork_is_safe() -> bool:
    """Linux, and no other Python thread runs (one could hold a lock that the child inherits).

    Native library threads (jemalloc's background thread of pyarrow, BLAS pools) register
    fork handlers and do not count.
    """
    import threading

    return sys.platform.startswith("linux") and threading.active_count() == 1


def make_mapper(config: ComputeConfig, *, stage: str = "") -> Mapper:
    """The mapper of ``config.scheduler`` (call ``close()`` when done, or use :func:`scheduler`)."""
    if config.scheduler == "serial":
        return SerialMapper(stage)
    if config.scheduler == "processes":
        return ProcessMapper(config, stage)
    return DaskMapper(config, stage)


@contextmanager
def scheduler(config: ComputeConfig | None = None, *, stage: str = "") -> Iterator[Mapper]:
    """A mapper for ``config`` (default: ``ComputeConfig()``), closed on exit.

    >>> from pipeline.compute import ComputeConfig, scheduler
    >>> with scheduler(ComputeConfig(scheduler="serial")) as mapper:
    ...     mapper.map(abs, [-1, 2])
    [1, 2]
    """
    mapper = make_mapper(config or ComputeConfig(), stage=stage)
    try:
        if isinstance(mapper, ProcessMapper):
            mapper.start()
        yield mapper
    finally:
        mapper.close()


__all__ = ["SCHEDULERS", "ComputeConfig", "DaskMapper", "ProcessMapper", "SerialMapper", "chunks", "make_mapper",
           "run_chunk", "scheduler"]
