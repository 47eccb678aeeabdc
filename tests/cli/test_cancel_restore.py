"""``qdispatch cancel ID`` and ``qdispatch restore ID`` on stored jobs, local or on a remote service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import attrs
import pytest
from qiskit import transpile
from qiskit.providers import JobStatus

from qdispatch import PluginManager, Provider, TaskCancelledError
from qdispatch.records import ChunkRecord
from qdispatch.testing import RegisteringPlugin, plugin_registered, x_circuit


def test_cancel_an_unfinished_job_so_it_never_runs(qd: Any, stored: Any) -> None:
    completed = qd("cancel", stored.queued)
    assert completed.stdout.strip() == (
        "job queued-job marked CANCELLED in the store (it was QUEUED); qdispatch "
        "will not run it again, but a process still running it is not stopped"
    )
    assert json.loads(qd.main("job", stored.queued, "--json")[0])["status"] == "CANCELLED"
    out, err = qd.main("restore", stored.queued, "--json", expect=1)
    assert json.loads(out)["status"] == "CANCELLED"
    assert err.strip() == "error: job queued-job ended CANCELLED"
    _, err = qd.main("cancel", stored.queued, expect=1)
    assert err.strip() == "error: job queued-job already ended CANCELLED; nothing to cancel"


def test_cancel_json_and_finished_jobs(qd: Any, stored: Any) -> None:
    out, _ = qd.main("cancel", stored.queued, "--json")
    assert json.loads(out) == {"job_id": "queued-job", "cancelled": True, "status": "CANCELLED"}
    _, err = qd.main("cancel", stored.done, expect=1)
    assert err.strip() == "error: job bell-job already ended DONE; nothing to cancel"
    missing = qd("cancel", "nope", expect=1)
    assert qd.errors(missing.stderr)[0].startswith("error: job 'nope' not found")


def test_restore_runs_an_unfinished_job_and_stores_its_result(qd: Any, stored: Any) -> None:
    completed = qd("restore", stored.queued, "--json", "--progress")
    assert (
        "warning: job 'queued-job' was QUEUED when persisted; it has been submitted again" in completed.stderr
    )
    assert completed.stderr.splitlines()[-1] == "progress: 4/4 circuits (DONE)"
    data = json.loads(completed.stdout)
    assert (data["status"], data["progress"], data["tags"]) == ("DONE", [4, 4], ["queued"])
    assert data["counts"][:3] == stored.many_counts[:3]  # deterministic circuits
    shown = json.loads(qd.main("job", stored.queued, "--json")[0])
    assert shown["status"] == "DONE" and shown["counts"] == data["counts"]


def test_restore_of_a_finished_job_does_not_run_it(qd: Any, stored: Any) -> None:
    out, err = qd.main("restore", stored.done)
    assert "warning" not in err
    text = dict(line.split(": ", 1) for line in out.splitlines())
    assert text["status"] == "DONE" and eval(text["counts"], {}) == stored.counts
    assert qd.main("restore", "nope", expect=1)[1].startswith("error: job 'nope' not found")


class RemoteExecutor:
    """Stands in for a remote service: resumed tasks stay running until cancelled there."""

    def __init__(self, honour_cancel: bool = True) -> None:
        self.honour_cancel = honour_cancel
        self.cancelled: list[dict[str, Any]] = []
        self.states: dict[int, dict[str, Any]] = {}

    def submit(self, task: Any) -> Future[Any]:
        raise AssertionError("a remote job must be resumed, never submitted again")

    def resume(self, task: Any, state: dict[str, Any]) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()  # the service is running it
        self.states[id(future)] = state
        return future

    def cancel(self, future: Future[Any]) -> bool:
        if not self.honour_cancel:
            return False
        self.cancelled.append(self.states[id(future)])
        future.set_exception(TaskCancelledError("cancelled on the service"))
        return True

    def shutdown(self, wait: bool = True) -> None:
        pass


@pytest.fixture
def remote(plugin_manager: PluginManager, provider: Provider) -> Iterator[dict[str, RemoteExecutor]]:
    made: dict[str, RemoteExecutor] = {}
    service = RegisteringPlugin(
        executors={
            "remote": lambda: made.setdefault("remote", RemoteExecutor()),
            "stubborn": lambda: made.setdefault("stubborn", RemoteExecutor(honour_cancel=False)),
        }
    )
    with plugin_registered(plugin_manager, service, "remote-service"):
        backend = provider.get_backend("aer")
        record = backend.run(transpile(x_circuit(1, 1), backend), shots=10).to_record()
        for executor in ("remote", "stubborn"):
            provider.store.save(
                attrs.evolve(
                    record,
                    job_id=f"on-{executor}",
                    executor=executor,
                    status=JobStatus.RUNNING,
                    result=None,
                    finished_at=None,
                    chunks=(ChunkRecord(start=0, stop=1, state={"remote_job_id": f"r-{executor}"}),),
                )
            )
        yield made


def test_cancel_reaches_the_remote_service(qd: Any, remote: dict[str, RemoteExecutor]) -> None:
    out, _ = qd.main("cancel", "on-remote", "--json")
    assert json.loads(out) == {"job_id": "on-remote", "cancelled": True, "status": "CANCELLED"}
    assert remote["remote"].cancelled == [{"remote_job_id": "r-remote"}]
    assert json.loads(qd.main("job", "on-remote", "--json")[0])["status"] == "CANCELLED"
    _, err = qd.main("cancel", "on-stubborn", expect=1)
    assert err.strip() == (
        "error: job on-stubborn could not be cancelled (its service is already running it); status RUNNING"
    )


def test_restore_resumes_a_remote_job_on_its_executor(qd: Any, remote: dict[str, RemoteExecutor]) -> None:
    # RemoteExecutor.submit fails the test if the job is submitted again instead of resumed
    _, err = qd.main("restore", "on-remote", "--timeout", "0.2", "--json", expect=1)
    assert (
        err.strip().splitlines()[-1] == "error: job on-remote did not finish within 0.2 s; it ended CANCELLED"
    )
    assert remote["remote"].cancelled == [{"remote_job_id": "r-remote"}]
