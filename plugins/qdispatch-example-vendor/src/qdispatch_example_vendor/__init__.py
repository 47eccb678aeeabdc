"""qdispatch plugin template: a toy vendor device and a serial executor.

Nothing is exported here on purpose: qdispatch finds the plugin through its
entry point (``qdispatch_example_vendor.hooks``), and users reach the device
and the executor by name (``example_vendor``, ``example_serial``).
"""

__all__: list[str] = []
