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


@pytest.fixture(scope="session")
def dask_cluster():
    """A real two-worker Dask cluster (processes), started once for the session.

    Small memory limits, one thread per worker, no dashboard. A test that
    takes this fixture computes on the cluster (the client is the default
    scheduler while it exists); it is closed at the end of the session.
    """
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, memory_limit="600MiB",
        dashboard_address=None, silence_logs=50,
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
