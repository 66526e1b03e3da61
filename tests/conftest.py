"""Test-session setup.

pytest loads this file at start-up (``tests`` is a testpath), before any test
module or doctest in ``skscratch`` imports SciPy.
"""

import os

# scikit-learn's check_array_api_input skips itself unless SciPy's array API
# support is switched on before SciPy is first imported. With it on, that
# check runs (with the numpy namespace) instead of being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


import pytest  # noqa: E402


def _local_cluster(memory_limit, config=None):
    """A real two-worker Dask cluster (processes, one thread each, no dashboard) and its client.

    A generator for the fixtures below: yields the client, closes both after.
    ``config`` (Dask configuration) is what the workers start with.
    """
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    with dask.config.set(config or {}):  # the nannies pass it on to their workers
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, memory_limit=memory_limit,
            dashboard_address=None, silence_logs=50,
        )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="session")
def dask_cluster():
    """A two-worker cluster with 600 MiB per worker, started once for the session.

    A test that takes this fixture computes on the cluster (the client is
    not the default scheduler; tests select it); it is closed at the end of
    the session.
    """
    yield from _local_cluster("600MiB")


@pytest.fixture(scope="module")
def small_workers():
    """Two worker processes limited to 500 MiB each, a hard limit.

    A worker that imports scikit-learn and SciPy already holds ~290 MB
    resident (measured), so 500 MiB leaves ~200 MB for data: far less than
    the X the memory test fits (1.6 GB). No spilling to disk and no pausing:
    Dask's defaults spill a worker's data to disk from 70% of its limit
    (here ~80 MB above the imports: the streaming fit and its oracle wrote
    1.4-1.7 GB per worker to disk, measured), which also lets a worker that
    holds too much carry on slowly. Here a worker whose resident memory
    passes 95% of the limit is restarted by its nanny, and loses its data.
    """
    yield from _local_cluster("500MiB", {"distributed.worker.memory.target": False,
                                         "distributed.worker.memory.spill": False,
                                         "distributed.worker.memory.pause": False})
