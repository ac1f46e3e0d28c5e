"""The scheduler (pipeline/compute.py): every mapper gives the serial results, in item order.

Cross-scheduler byte identity of the stages' artifacts is in tests/test_compute_stages.py.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from measures.core.config import ConfigError
from pipeline.compute import ComputeConfig, DaskMapper, ProcessMapper, SerialMapper, chunks, scheduler
from pipeline.stage import compute_config


def _least_squares(seed: int, *, n: int = 200, k: int = 30) -> np.ndarray:
    """A BLAS-heavy item whose bits depend on the thread count of the BLAS if it is not pinned."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k))
    y = x @ rng.standard_normal(k) + rng.standard_normal(n)
    return np.linalg.lstsq(x, y, rcond=None)[0]


def _blas_threads(_item) -> int:
    from threadpoolctl import threadpool_info

    return max((i["num_threads"] for i in threadpool_info()), default=1)


def _fail_on_three(item: int) -> int:
    if item == 3:
        raise ConfigError(f"item {item} is bad")
    return item


def _config(scheduler: str = "processes", **values) -> ComputeConfig:
    return ComputeConfig(scheduler=scheduler, **values)


@pytest.mark.parametrize("values, match", [
    ({"scheduler": "threads"}, r"compute: scheduler='threads' is not allowed; allowed values: 'serial', 'processes', 'dask'"),
    ({"workers": 0}, r"compute: workers=0 is out of range; allowed: \[1, inf\]"),
    ({"workers": 1.5}, r"compute: workers=1.5 must be an integer"),
    ({"chunk": 0}, r"compute: chunk=0 is out of range"),
    ({"address": "tcp://h:8786"}, r"compute: address='tcp://h:8786' needs scheduler='dask'"),
    ({"scheduler": "dask", "address": "localhost"}, r"compute: address='localhost' is not a dask scheduler address"),
    ({"threads": 2}, r"compute: unknown option\(s\) threads for ComputeConfig; allowed options: address, chunk, scheduler, workers"),
])
def test_bad_input_compute_params(values, match):
    with pytest.raises(ConfigError, match=match):
        compute_config({"compute": values})


def test_the_compute_group_defaults_to_processes_on_every_core():
    config = compute_config({})
    assert (config.scheduler, config.workers, config.address, config.chunk) == ("processes", None, None, None)
    assert config.n_workers() == len(os.sched_getaffinity(0))


def test_chunks_are_consecutive_and_about_eight_per_worker():
    items = list(range(37))
    parts = chunks(items, size=None, workers=2)
    assert [x for p in parts for x in p] == items
    assert len(parts) == 13 and {len(p) for p in parts} == {3, 1}
    assert len(chunks(list(range(11)), size=None, workers=2)) == 11
    assert [len(p) for p in chunks(items, size=10, workers=2)] == [10, 10, 10, 7]
    assert chunks([], size=None, workers=2) == []


@pytest.fixture(scope="module")
def expected():
    return [_least_squares(seed) for seed in range(24)]


@pytest.mark.parametrize("config", [
    _config("serial"), _config(workers=1), _config(workers=2), _config(workers=2, chunk=1), _config(workers=2, chunk=100),
], ids=["serial", "processes-1", "processes-2", "processes-2-chunk-1", "processes-2-one-chunk"])
def test_every_mapper_returns_the_serial_results_in_item_order(config, expected):
    with scheduler(config) as mapper:
        got = mapper.map(_least_squares, range(24), desc="lstsq")
        again = mapper.map(functools.partial(_least_squares, n=200), range(24))  # the pool is reused
    assert all(np.array_equal(a, b) for a, b in zip(got, expected)) and len(got) == 24
    assert all(np.array_equal(a, b) for a, b in zip(again, expected))


def test_a_process_pool_runs_closures_and_pins_blas_to_one_thread(monkeypatch):
    offset = 10
    with scheduler(_config(workers=2)) as mapper:
        assert isinstance(mapper, ProcessMapper)
        assert mapper.map(lambda i: i + offset, range(6)) == list(range(10, 16))  # cloudpickle: closures work
        assert set(mapper.map(_blas_threads, range(4))) == {1}


def test_a_failing_item_raises_its_own_error_in_the_stage_process():
    with scheduler(_config(workers=2, chunk=1)) as mapper:
        with pytest.raises(ConfigError, match="item 3 is bad"):
            mapper.map(_fail_on_three, range(6))


def test_one_item_or_one_worker_runs_in_this_process():
    mapper = ProcessMapper(_config(workers=1))
    mapper.start()
    assert mapper._pool is None and mapper.map(lambda _: os.getpid(), [0, 1]) == [os.getpid()] * 2
    two = ProcessMapper(_config(workers=2))
    try:
        assert two.map(lambda _: os.getpid(), [0]) == [os.getpid()]
    finally:
        two.close()
    assert SerialMapper("s").map(abs, [-2, 3]) == [2, 3]


def test_a_local_dask_cluster_gives_the_serial_results_with_one_blas_thread(expected, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # what the spawned workers would otherwise use
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    with scheduler(_config("dask", workers=2)) as mapper:
        assert isinstance(mapper, DaskMapper)
        got = mapper.map(_least_squares, range(24))
        assert set(mapper.map(_blas_threads, range(4))) == {1}
        assert len(mapper.client().scheduler_info()["workers"]) == 2
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dask_cluster():
    """A ``dask scheduler`` and a ``dask worker`` (two single-threaded processes) started on localhost."""
    pytest.importorskip("distributed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(p) for p in sys.path if p]), "OPENBLAS_NUM_THREADS": "2"}
    cmd = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
           "--no-dashboard"]
    sched = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
                               "--nthreads", "1", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in (worker, sched):
            proc.terminate()
        for proc in (worker, sched):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()


def test_an_existing_dask_cluster_at_compute_address_gives_the_serial_results(dask_cluster, expected):
    config = compute_config({"compute": {"scheduler": "dask", "address": dask_cluster}})
    with scheduler(config) as mapper:
        got = mapper.map(_least_squares, range(24))
        pids = set(mapper.map(lambda _: os.getpid(), range(8)))
        assert set(mapper.map(_blas_threads, range(4))) == {1}
        assert mapper.workers == 2
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))
    assert os.getpid() not in pids and len(pids) >= 1


def test_bad_input_unreachable_dask_address_names_the_key():
    dask = pytest.importorskip("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    mapper = DaskMapper(compute_config({"compute": {"scheduler": "dask", "address": address}}))
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        with pytest.raises(ConfigError, match=rf"compute: address='{address}': cannot reach a dask scheduler there"):
            mapper.map(abs, [1, 2])


def test_params_yaml_holds_the_compute_defaults():
    import yaml

    from conftest import REPO

    assert compute_config(yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))) == ComputeConfig()


def test_a_large_function_goes_to_each_worker_once_per_map_and_the_file_is_removed(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    weights = np.arange(300_000, dtype=float)  # 2.4 MB bound to the function: above LARGE_PAYLOAD
    with scheduler(_config(workers=2, chunk=1)) as mapper:
        got = mapper.map(functools.partial(_weighted, weights=weights), range(6))
    assert got == [float(weights.sum() * i) for i in range(6)]
    assert list(tmp_path.glob("bsr-map-*")) == []  # (other libraries may use the temporary folder meanwhile)


def _weighted(item: int, *, weights: np.ndarray) -> float:
    return float(weights.sum() * item)
