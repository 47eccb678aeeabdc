"""The core against hostile plugins and records: blocking hooks, many tasks, redirected credentials."""

from __future__ import annotations

import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import pytest
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.result import Result

import qdispatch.job
import qdispatch.provider
from qdispatch import Provider, hookimpl
from qdispatch.contract import ProbeDevice, probe_circuits
from qdispatch.errors import CredentialEndpointError
from qdispatch.plugins import PluginManager
from qdispatch.testing import seed_circuit


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> float:
    """Make the bounded waits for slow hooks one second, so the tests stay quick."""
    monkeypatch.setattr(qdispatch.provider, "HOOK_GRACE_SECONDS", 1.0)
    monkeypatch.setattr(qdispatch.job, "HOOK_GRACE_SECONDS", 1.0)
    return 1.0


def test_a_plugin_blocking_in_job_finished_holds_no_executor_worker(
    qdispatch_home: object, plugin_manager: PluginManager, short_grace: float, faults: Any
) -> None:
    release = threading.Event()

    class Blocking:
        @hookimpl
        def job_finished(self, job: Any) -> None:
            release.wait(60)

    plugin_manager.register(Blocking(), name="blocking")
    try:
        provider = Provider(executor_options={"max_workers": 2})
        backend = provider.get_backend("aer")
        jobs = [backend.run(seed_circuit(), shots=10) for _ in range(4)]
        deadline = time.monotonic() + 30
        while not all(j.in_final_state() for j in jobs) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [j.status() for j in jobs] == [JobStatus.DONE] * 4  # a third and fourth job still ran
        assert jobs[3].result(timeout=30).get_counts() == {"1": 10}  # returns after the grace, not never
        started = time.monotonic()
        with pytest.warns(RuntimeWarning, match="plugin 'blocking' has been in job_finished"):
            provider.close()
        took = time.monotonic() - started
        assert took < short_grace + 5
    finally:
        release.set()
        plugin_manager.unregister(name="blocking")
    faults.record(
        "hooks",
        "a plugin blocks in job_finished, 2 workers, 4 jobs",
        4,
        f"all DONE; close() named the plugin after {took:.1f} s",
    )


def test_a_plugin_calling_sys_exit_at_import_does_not_end_the_program(
    plugin_manager: PluginManager, faults: Any
) -> None:
    """Loading catches SystemExit like any failure (the plugin is reported, the rest load)."""

    class ExitsOnRegister:
        @hookimpl
        def register_backends(self, register: Any) -> None:
            raise SystemExit(3)

    plugin_manager.register(ExitsOnRegister(), name="exits")
    try:
        with pytest.warns(RuntimeWarning, match="'exits' failed to register backends"):
            names = plugin_manager.names("backend")
    finally:
        plugin_manager.unregister(name="exits")
    assert "aer" in names
    faults.record(
        "plugins", "a plugin raises SystemExit while registering", 1, "warned; other backends listed"
    )


def _calls_per_task(tasks: int) -> float:
    """Python function calls made in every thread while a job of ``tasks`` one-circuit tasks runs, per task.

    The probe device's own simulation is left out (it is the same per task
    whatever the job's size); what remains is qdispatch's bookkeeping.
    """
    calls = 0
    inside_simulation = threading.local()

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call" and not getattr(inside_simulation, "depth", 0):
            calls += 1
        if frame.f_code.co_name == "_simulate":
            depth = getattr(inside_simulation, "depth", 0)
            inside_simulation.depth = depth + (1 if event == "call" else -1 if event == "return" else 0)

    with Provider(executor="thread", executor_options={"max_workers": 2}, store="file") as provider:
        backend = provider.get_backend("contract_probe")
        circuits = probe_circuits(0, tasks)
        threading.setprofile(count)
        sys.setprofile(count)
        try:
            job = backend.run(circuits, shots=1, max_circuits_per_task=1)
            job.result(timeout=120)
        finally:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
    return calls / tasks


def test_the_cost_of_a_job_grows_linearly_with_its_tasks(plugin_manager: PluginManager, faults: Any) -> None:
    """Each task's completion costs constant work: no pass over every task per event."""

    class Plugin:
        @hookimpl
        def register_backends(self, register: Any) -> None:
            register("contract_probe", ProbeDevice)

    plugin_manager.register(Plugin(), name="counting")
    try:
        small = _calls_per_task(50)
        large = _calls_per_task(400)
    finally:
        plugin_manager.unregister(name="counting")
    assert large <= small * 1.2, (small, large)  # per task, not per task squared
    faults.record(
        "scale",
        "one job of 50 then 400 one-circuit tasks",
        2,
        f"Python calls per task: {small:.0f} then {large:.0f}",
    )


class EndpointDevice(ProbeDevice):
    """A device that sends a token to ``url``, as a remote service's device does."""

    name = "remote_service"
    secret_options = frozenset({"token"})
    endpoint_options = frozenset({"url"})
    built_with: ClassVar[list[str | None]] = []

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        super().__init__()
        EndpointDevice.built_with.append(url)

    def run_circuits(
        self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]
    ) -> Result:
        """Simulate locally (a real service would be called at ``url`` with the token)."""
        return super().run_circuits(circuits, shots, run_options)


@pytest.fixture
def endpoint_plugin(plugin_manager: PluginManager) -> Iterator[None]:
    class Plugin:
        @hookimpl
        def register_backends(self, register: Any) -> None:
            register("remote_service", EndpointDevice)

    plugin_manager.register(Plugin(), name="remote-service")
    EndpointDevice.built_with = []
    try:
        yield
    finally:
        plugin_manager.unregister(name="remote-service")


def test_a_planted_record_cannot_send_credentials_to_its_own_endpoint(
    qdispatch_home: Any, endpoint_plugin: None, faults: Any
) -> None:
    (qdispatch_home / "config.toml").write_text(
        '[backends.remote_service]\nurl = "https://service.example"\ntoken = "secret-token"\n'
    )
    with Provider() as provider:
        job = provider.get_backend("remote_service").run(probe_circuits(0, 1), shots=4)
        job.result(timeout=30)
        job.persist()
        record = job.to_record()
        assert "token" not in record.backend_options
        planted = attrs.evolve(
            record,
            job_id="planted",
            backend_options={"url": "https://attacker.example"},
            status=JobStatus.QUEUED,
            result=None,
            finished_at=None,
        )
        provider.store.save(planted)
        EndpointDevice.built_with = []
        with pytest.raises(CredentialEndpointError) as caught:
            provider.restore("planted")
        assert provider.restore(job.job_id()).result().get_counts() == job.result().get_counts()
    message = str(caught.value)
    assert "'https://attacker.example'" in message and "'https://service.example'" in message
    assert "secret-token" not in message
    assert "https://attacker.example" not in EndpointDevice.built_with  # never built, so never sent
    faults.record(
        "security",
        "a record names another endpoint than the configured one",
        1,
        "CredentialEndpointError naming both; the device was never built for it",
    )


def test_a_job_id_already_in_the_store_is_refused_before_anything_runs(
    provider: Provider, faults: Any
) -> None:
    backend = provider.get_backend("aer")
    first = backend.run(seed_circuit(), shots=10, job_id="mine", tags=["keep"])
    first.result()
    first.persist()
    with pytest.raises(Exception, match="job id 'mine' is already in the store"):
        backend.run(seed_circuit(), shots=99, job_id="mine")
    kept = provider.store.load("mine")
    assert kept.shots == 10 and kept.tags == ("keep",)
    faults.record("data loss", "backend.run with a job id already stored", 1, "refused; stored job unchanged")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object(), {1: 2}])
def test_run_options_that_cannot_be_stored_are_refused_at_run(provider: Provider, value: Any) -> None:
    with pytest.raises(ValueError, match="run option 'odd'"):
        provider.get_backend("aer").run(seed_circuit(), shots=10, odd=value)


def test_restore_refuses_an_edited_record_with_a_bad_shot_count(provider: Provider, faults: Any) -> None:
    job = provider.get_backend("aer").run(seed_circuit(), shots=10)
    job.result()
    for shots in (0, -5):
        provider.store.save(
            attrs.evolve(
                job.to_record(),
                job_id=f"edited{-shots}",
                shots=shots,
                status=JobStatus.QUEUED,
                result=None,
                finished_at=None,
            )
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(ValueError, match="shots must be at least 1"):
                provider.restore(f"edited{-shots}")
    faults.record("records", "a record edited to shots 0 and -5, restored", 2, "refused before running")
