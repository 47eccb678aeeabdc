"""Hook implementations of the qdispatch-aqt plugin.

Each name is registered as the ``"module:Class"`` that builds it, so its
options are declared once, by that class's ``__init__``; HTTP clients and Aer
are imported only when the object is first built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdispatch import hookimpl

if TYPE_CHECKING:
    from qdispatch.plugins import Register


@hookimpl
def register_backends(register: Register) -> None:
    """Register ``aqt`` and the offline simulators ``aqt_offline_simulator_no_noise`` / ``_noise``."""
    register("aqt", "qdispatch_aqt.device:AQTDevice")
    for name, noisy in (("aqt_offline_simulator_no_noise", False), ("aqt_offline_simulator_noise", True)):
        register(name, "qdispatch_aqt.offline:AQTOfflineDevice", name=name, noisy=noisy)


@hookimpl
def register_executors(register: Register) -> None:
    """Register the ``aqt`` executor."""
    register("aqt", "qdispatch_aqt.executor:AQTExecutor")
