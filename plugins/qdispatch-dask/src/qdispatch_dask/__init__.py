"""qdispatch plugin: the ``dask`` executor, running tasks on a Dask cluster.

Importing this package does not import Dask; ``distributed`` is loaded when
the executor is first created.
"""

from qdispatch_dask.errors import DaskSchedulerError, DaskTaskError

__all__ = ["DaskSchedulerError", "DaskTaskError"]
