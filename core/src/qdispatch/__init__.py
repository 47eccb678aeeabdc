"""qdispatch: a plugin-architecture job layer for Qiskit."""

from qdispatch._version import qdispatch_version
from qdispatch.backend import Backend
from qdispatch.circuits import CircuitBatch
from qdispatch.config import Settings, load_settings
from qdispatch.errors import (
    BackendError,
    ConfigurationError,
    ExecutorError,
    InvalidInputError,
    InvalidJobIdError,
    JobCancelledError,
    JobCorruptError,
    JobError,
    JobFailedError,
    JobIncompatibleError,
    JobNotFoundError,
    JobStateError,
    PluginNotFoundError,
    QDispatchError,
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

__version__ = qdispatch_version()

__all__ = [
    "Backend",
    "BackendError",
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
