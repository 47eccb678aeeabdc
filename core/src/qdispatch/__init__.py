"""qdispatch: a plugin-architecture job layer for Qiskit.

The public names below are re-exported lazily, through a module-level
``__getattr__`` (PEP 562): ``import qdispatch`` imports none of its
submodules, and each name imports its module on first use. A program that
only lists backends (``qdispatch.Provider().backends()``) then never builds
the job, record or protocol classes, which keeps its start-up close to that
of ``import qiskit`` (issue 7, ``bench/startup.py``). Type checkers and
``from qdispatch import X`` see the same names as with ordinary imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qdispatch.backend import Backend
    from qdispatch.circuits import CircuitBatch
    from qdispatch.config import Settings, load_settings
    from qdispatch.errors import (
        BackendError,
        ConfigurationError,
        CredentialEndpointError,
        ExecutorError,
        InsecureStoreError,
        InvalidInputError,
        InvalidJobIdError,
        InvalidOptionError,
        JobCancelledError,
        JobCorruptError,
        JobError,
        JobExistsError,
        JobFailedError,
        JobIncompatibleError,
        JobNotFoundError,
        JobStateError,
        PluginNotFoundError,
        QDispatchError,
        ResultMismatchError,
        StoreConfigurationError,
        StoreError,
        TaskCancelledError,
        WorkerDiedError,
    )
    from qdispatch.hookspecs import hookimpl, hookspec
    from qdispatch.job import Job, Progress
    from qdispatch.plugins import PluginManager, get_plugin_manager, make_plugin_manager
    from qdispatch.protocols import Device, Executor, Store
    from qdispatch.provider import Provider
    from qdispatch.records import ChunkRecord, JobRecord, JobSummary, Provenance
    from qdispatch.task import Task

    __version__: str

_EXPORTS: dict[str, str] = {
    "Backend": "qdispatch.backend",
    "CircuitBatch": "qdispatch.circuits",
    "Settings": "qdispatch.config",
    "load_settings": "qdispatch.config",
    "BackendError": "qdispatch.errors",
    "CredentialEndpointError": "qdispatch.errors",
    "InsecureStoreError": "qdispatch.errors",
    "InvalidOptionError": "qdispatch.errors",
    "JobExistsError": "qdispatch.errors",
    "ResultMismatchError": "qdispatch.errors",
    "StoreConfigurationError": "qdispatch.errors",
    "ConfigurationError": "qdispatch.errors",
    "ExecutorError": "qdispatch.errors",
    "InvalidInputError": "qdispatch.errors",
    "InvalidJobIdError": "qdispatch.errors",
    "JobCancelledError": "qdispatch.errors",
    "JobCorruptError": "qdispatch.errors",
    "JobError": "qdispatch.errors",
    "JobFailedError": "qdispatch.errors",
    "JobIncompatibleError": "qdispatch.errors",
    "JobNotFoundError": "qdispatch.errors",
    "JobStateError": "qdispatch.errors",
    "PluginNotFoundError": "qdispatch.errors",
    "QDispatchError": "qdispatch.errors",
    "StoreError": "qdispatch.errors",
    "TaskCancelledError": "qdispatch.errors",
    "WorkerDiedError": "qdispatch.errors",
    "hookimpl": "qdispatch.hookspecs",
    "hookspec": "qdispatch.hookspecs",
    "Job": "qdispatch.job",
    "Progress": "qdispatch.job",
    "PluginManager": "qdispatch.plugins",
    "get_plugin_manager": "qdispatch.plugins",
    "make_plugin_manager": "qdispatch.plugins",
    "Device": "qdispatch.protocols",
    "Executor": "qdispatch.protocols",
    "Store": "qdispatch.protocols",
    "Provider": "qdispatch.provider",
    "ChunkRecord": "qdispatch.records",
    "JobRecord": "qdispatch.records",
    "JobSummary": "qdispatch.records",
    "Provenance": "qdispatch.records",
    "Task": "qdispatch.task",
}
"""Public name -> the module that defines it."""

__all__ = [
    "Backend",
    "BackendError",
    "CredentialEndpointError",
    "InsecureStoreError",
    "InvalidOptionError",
    "JobExistsError",
    "ResultMismatchError",
    "StoreConfigurationError",
    "ChunkRecord",
    "CircuitBatch",
    "ConfigurationError",
    "Device",
    "Executor",
    "ExecutorError",
    "InvalidInputError",
    "InvalidJobIdError",
    "Job",
    "JobCancelledError",
    "JobCorruptError",
    "JobError",
    "JobFailedError",
    "JobIncompatibleError",
    "JobNotFoundError",
    "JobRecord",
    "JobStateError",
    "JobSummary",
    "PluginManager",
    "PluginNotFoundError",
    "Progress",
    "Provenance",
    "Provider",
    "QDispatchError",
    "Settings",
    "Store",
    "StoreError",
    "Task",
    "TaskCancelledError",
    "WorkerDiedError",
    "__version__",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
    "load_settings",
    "make_plugin_manager",
]


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first use (then cache the name here)."""
    if name == "__version__":
        from qdispatch._version import qdispatch_version

        value: Any = qdispatch_version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'qdispatch' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
