"""What Jupyter shows for a job: ``_repr_html_`` and ``repr``."""

from __future__ import annotations

from qiskit import QuantumCircuit, transpile

from qdispatch import Provider
from qdispatch.testing import x_circuit


def test_jupyter_shows_status_progress_backend_and_executor(provider: Provider) -> None:
    backend = provider.get_backend("aer")
    job = backend.run(transpile([x_circuit(1, 1)] * 3, backend), shots=10, max_circuits_per_task=1)
    job.result()
    page = job._repr_html_()
    for shown in (
        job.job_id(),
        "DONE",
        "3 / 3 circuits (100%)",
        "aer",
        "thread",
        "<progress value='3' max='3'>",
    ):
        assert shown in page
    assert (
        repr(job)
        == f"<qdispatch.Job {job.job_id()} backend='aer' executor='thread' status=DONE progress=3/3>"
    )


def test_jupyter_shows_the_error_escaped(provider: Provider) -> None:
    circuit = QuantumCircuit(20, name="<b>'big'</b>")
    circuit.h(range(20))
    circuit.measure_all()
    job = provider.get_backend("aer", method="statevector").run(circuit, shots=5, max_memory_mb=1)
    job.wait_for_final_state(timeout=60, wait=0.05)
    page = job._repr_html_()
    assert "ERROR" in page and "0 / 1 circuits (0%)" in page and "thread" in page
    assert "Insufficient memory" in page
    assert "&lt;b&gt;&#x27;big&#x27;&lt;/b&gt;" in page and "<b>'big'</b>" not in page  # escaped
