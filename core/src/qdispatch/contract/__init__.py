"""Check a plugin's executor, store or backend against the plugin contract.

Plugin authors run these in their tests, or ``qdispatch check-plugin NAME``
on the command line::

    from qdispatch.contract import check_executor

    def test_my_executor_keeps_the_contract():
        check_executor("my_executor").assert_ok()

Executors are checked with :class:`ProbeTask`, a :class:`qdispatch.Task` that
needs no backend plugin (it simulates with Qiskit's ``BasicSimulator``) and
that can wait for a signal file before it finishes: so the checks can keep
every worker busy and cancel a task that is certainly still queued, without
relying on timing. The executor's workers must share this machine's file
system (true of threads, processes and a local Dask cluster).

Stores are checked in a fresh temporary location when they take a ``path``
option, so your real jobs are never touched.
"""

from qdispatch.contract.backends import BACKEND_CHECKS, PROVENANCE_KEYS, check_backend
from qdispatch.contract.executors import EXECUTOR_CHECKS, check_executor
from qdispatch.contract.plugin import check_plugin
from qdispatch.contract.probe import PROBE_BACKEND, ProbeDevice, ProbeTask, expected_bitstring, probe_circuits
from qdispatch.contract.report import Check, ContractReport
from qdispatch.contract.stores import STORE_CHECKS, check_store

__all__ = [
    "BACKEND_CHECKS",
    "EXECUTOR_CHECKS",
    "PROBE_BACKEND",
    "PROVENANCE_KEYS",
    "STORE_CHECKS",
    "Check",
    "ContractReport",
    "ProbeDevice",
    "ProbeTask",
    "check_backend",
    "check_executor",
    "check_plugin",
    "check_store",
    "expected_bitstring",
    "probe_circuits",
]
