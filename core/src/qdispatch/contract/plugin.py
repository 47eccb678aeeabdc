"""Checking whatever a name is registered as (``qdispatch check-plugin NAME``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qdispatch.contract.backends import check_backend
from qdispatch.contract.executors import check_executor
from qdispatch.contract.report import ContractReport
from qdispatch.contract.stores import check_store
from qdispatch.errors import (
    InvalidInputError,
    PluginNotFoundError,
)
from qdispatch.plugins import KINDS, Kind, PluginManager, get_plugin_manager


def check_plugin(
    name: str,
    kind: Kind | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    backend: str | None = None,
    timeout: float = 60.0,
    plugin_manager: PluginManager | None = None,
) -> ContractReport:
    """Check whatever is registered as ``name`` (``qdispatch check-plugin NAME``).

    :param kind: ``executor``, ``store`` or ``backend``; needed only when
        ``name`` is registered as more than one.
    :raises PluginNotFoundError: if nothing is registered as ``name``.
    :raises InvalidInputError: if ``name`` is ambiguous and ``kind`` is not given.
    """
    pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
    if kind is None:
        kinds = [k for k in KINDS if name in pm.catalogue()[k]]
        if not kinds:
            every = [n for k in KINDS for n in pm.names(k)]
            raise PluginNotFoundError("executor, store or backend", name, every)
        if len(kinds) > 1:
            raise InvalidInputError(f"{name!r} is registered as {' and '.join(kinds)}; say which with --kind")
        kind = kinds[0]
    if kind == "executor":
        return check_executor(name, options, backend=backend, timeout=timeout, plugin_manager=pm)
    if kind == "store":
        return check_store(name, options, timeout=timeout, plugin_manager=pm)
    return check_backend(name, options, timeout=timeout, plugin_manager=pm)
