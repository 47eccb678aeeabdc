"""A local AQT-compatible server: ``python -m qdispatch_aqt.testing.server`` or :class:`AQTServer`."""

from qdispatch_aqt.testing.server.app import AQTServer, LoggedRequest
from qdispatch_aqt.testing.server.faults import Faults
from qdispatch_aqt.testing.server.jobs import Resource

__all__ = ["AQTServer", "Faults", "LoggedRequest", "Resource"]
