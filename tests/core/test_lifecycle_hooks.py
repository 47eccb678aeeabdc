"""Lifecycle hooks fire in order for done, failed and cancelled jobs; a raising plugin harms nothing."""

from __future__ import annotations

import threading
from typing import Any

import attrs
import pytest
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus

from qdispatch import Job, Provider, hookimpl
from qdispatch.contract import ProbeDevice, probe_circuits
from qdispatch.plugins import PluginManager
from qdispatch.testing import HookRecorder, backend_registered, bell, seed_circuit


def test_hooks_fire_in_order_for_a_done_job(provider: Provider, hook_recorder: HookRecorder) -> None:
    job = provider.get_backend("aer").run(bell(), shots=10)
    job.result()
    job.status()
    names = hook_recorder.names(job.job_id())
    assert names[:2] == ["job_created", "job_submitted"]
    assert names[-1] == "job_finished"
    assert names.count("job_finished") == 1
    transitions = hook_recorder.transitions(job.job_id())
    assert transitions[0] == ("INITIALIZING", "QUEUED")
    assert transitions[-1][1] == "DONE"
    assert all(old != new for old, new in transitions)
    progress = [c.kwargs["progress"] for c in hook_recorder.calls if c.name == "job_progress"]
    assert progress[-1].finished_count == progress[-1].total_count == 1


def test_progress_hook_moves_per_task(provider: Provider, hook_recorder: HookRecorder) -> None:
    job = provider.get_backend("aer").run([seed_circuit()] * 6, shots=5, max_circuits_per_task=2)
    job.result()
    job.status()
    counts = [c.kwargs["progress"].finished_count for c in hook_recorder.calls if c.name == "job_progress"]
    assert counts == sorted(counts) and counts[-1] == 6 and len(counts) >= 2


def test_hooks_for_a_failed_job(provider: Provider, hook_recorder: HookRecorder) -> None:
    qc = QuantumCircuit(20)
    qc.h(range(20))
    qc.measure_all()
    job = provider.get_backend("aer", method="statevector").run(qc, shots=1, max_memory_mb=1)
    job.wait_for_final_state(timeout=60, wait=0.05)
    assert hook_recorder.transitions(job.job_id())[-1][1] == "ERROR"
    assert hook_recorder.names(job.job_id())[-1] == "job_finished"


def test_hooks_for_a_cancelled_job(qdispatch_home: object, hook_recorder: HookRecorder) -> None:
    with Provider(executor_options={"max_workers": 1}) as provider:
        backend = provider.get_backend("aer")
        blocker = backend.run([bell()] * 200, shots=2000, max_circuits_per_task=200)
        job = backend.run(seed_circuit(), shots=10)
        assert job.cancel()
        blocker.result(timeout=120)
    assert hook_recorder.names(job.job_id()) == [
        "job_created",
        "job_submitted",
        "job_status_changed",
        "job_status_changed",
        "job_finished",
    ]
    assert hook_recorder.transitions(job.job_id()) == [("INITIALIZING", "QUEUED"), ("QUEUED", "CANCELLED")]


def test_persist_and_restore_hooks(provider: Provider, hook_recorder: HookRecorder) -> None:
    job = provider.get_backend("aer").run(seed_circuit(), shots=10)
    job.result()
    location = job.persist()
    restored = Job.restore(job.job_id(), provider=provider)
    persisted = [c for c in hook_recorder.calls if c.name == "job_persisted"]
    assert persisted[0].kwargs["location"] == location
    assert [c.kwargs["job"] for c in hook_recorder.calls if c.name == "job_restored"] == [restored]


class Exploding:
    """A plugin that raises in every lifecycle hook."""

    @hookimpl
    def job_status_changed(self, job: Any, old: Any, new: Any) -> None:
        raise RuntimeError("boom in status hook")

    @hookimpl
    def job_finished(self, job: Any) -> None:
        raise RuntimeError("boom in finished hook")


def test_a_raising_hook_warns_and_leaves_the_job_intact(
    provider: Provider, plugin_manager: PluginManager, hook_recorder: HookRecorder
) -> None:
    plugin_manager.register(Exploding(), name="exploding")
    try:
        with pytest.warns(RuntimeWarning, match="'exploding' raised in job_status_changed"):
            job = provider.get_backend("aer").run(seed_circuit(), shots=20)
            counts = job.result().get_counts()
            job.status()
    finally:
        plugin_manager.unregister(name="exploding")
    assert counts == {"1": 20}
    assert job.done()
    assert "job_finished" in hook_recorder.names(job.job_id())  # the other plugin still heard


def test_a_plugin_registered_later_hears_later_jobs_and_stops_when_unregistered(
    provider: Provider, plugin_manager: PluginManager
) -> None:
    backend = provider.get_backend("aer")
    backend.run(seed_circuit(), shots=5).result()  # the hooks have been called once already
    late = HookRecorder()
    plugin_manager.register(late, name="late-recorder")
    heard = backend.run(seed_circuit(), shots=5)
    heard.result()
    plugin_manager.unregister(name="late-recorder")
    unheard = backend.run(seed_circuit(), shots=5)
    unheard.result()
    assert late.names(heard.job_id())[0] == "job_created"
    assert late.names(heard.job_id())[-1] == "job_finished"
    assert late.names(unheard.job_id()) == []


def test_reads_never_fire_hooks_or_write_to_the_store(
    qdispatch_home: Any,
    plugin_manager: PluginManager,
    hook_recorder: HookRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """status(), progress(), error_message, repr and in_final_state() only read, queued or finished."""
    monkeypatch.setenv("QDISPATCH_AUTOSAVE", "true")
    opened = threading.Event()

    class Gate(ProbeDevice):
        name = "gate"

        def run_circuits(self, circuits: Any, shots: int, run_options: Any) -> Any:
            opened.wait(60)
            return super().run_circuits(circuits, shots, run_options)

    def read_twenty_times(job: Job) -> None:
        for _ in range(20):
            job.status(), job.progress(), job.error_message, repr(job), job.in_final_state()

    def stored(provider: Provider, job: Job) -> tuple[Any, Any]:
        record = provider.store.load(job.job_id())
        return attrs.evolve(record, result=None), record.result.to_dict() if record.result else None

    with (
        backend_registered(plugin_manager, "gate", Gate),
        Provider(executor_options={"max_workers": 1}) as provider,
    ):
        blocker = provider.get_backend("gate").run(probe_circuits(0, 1), shots=10)
        queued = provider.get_backend("aer").run(seed_circuit(), shots=10)  # waits for the one worker
        for finished in (False, True):
            if finished:
                opened.set()
                queued.result(timeout=60)
            provider._hooks.flush()
            heard = hook_recorder.names(queued.job_id())
            before = stored(provider, queued)
            read_twenty_times(queued)
            provider._hooks.flush()
            assert hook_recorder.names(queued.job_id()) == heard
            assert stored(provider, queued) == before
            assert queued.status() is (JobStatus.DONE if finished else JobStatus.QUEUED)
        blocker.result(timeout=60)
