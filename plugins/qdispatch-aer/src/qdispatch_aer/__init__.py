"""qdispatch plugin: the qiskit-aer simulators (``aer`` and ``aer_noisy``)."""

__all__: list[str] = []
