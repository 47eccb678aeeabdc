"""The executor's registration and options; no cluster needed."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from qdispatch import ConfigurationError, Provider
from qdispatch.plugins import get_plugin_manager
from qdispatch_dask.executor import DaskExecutor


def test_registered_by_the_entry_point() -> None:
    registration = get_plugin_manager().registration("executor", "dask")
    assert registration.plugin == "dask"
    assert "dask" in Provider().executors()


def test_listing_backends_does_not_import_dask() -> None:
    code = (
        "import sys, qdispatch\n"
        "p = qdispatch.Provider(executor='dask')\n"
        "assert 'dask' in p.executors() and p.backends()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"n_workers": 0}, "option 'n_workers' of executor 'dask' must be a positive whole number"),
        (
            {"threads_per_worker": True},
            "option 'threads_per_worker' of executor 'dask' must be a positive whole number",
        ),
        (
            {"connect_timeout": 0},
            "option 'connect_timeout' of executor 'dask' must be a finite number above 0",
        ),
        ({"address": ""}, "address must be a scheduler address"),
        ({"address": "tcp://127.0.0.1:8786", "n_workers": 2}, "n_workers only apply to the local cluster"),
        ({"workers": 2}, "unknown option 'workers'"),
    ],
)
def test_invalid_options_are_configuration_errors(options: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        Provider(executor="dask", executor_options=options).executor()


def test_options_reach_the_executor_and_nothing_connects_before_submit() -> None:
    with Provider(
        executor="dask", executor_options={"address": "tcp://127.0.0.1:1", "connect_timeout": 3}
    ) as provider:
        executor = provider.executor()
        assert isinstance(executor, DaskExecutor)
        assert (executor.address, executor.connect_timeout, executor.scheduler_address) == (
            "tcp://127.0.0.1:1",
            3.0,
            "tcp://127.0.0.1:1",
        )
    local = Provider(executor="dask", executor_options={"n_workers": 3, "threads_per_worker": 2}).executor()
    assert isinstance(local, DaskExecutor)
    assert (local.address, local.n_workers, local.threads_per_worker, local.scheduler_address) == (
        None,
        3,
        2,
        None,
    )
    local.shutdown()
