"""Autosave: with ``autosave = true`` every status change is in the store, so a crash loses no job."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from qiskit.providers import JobStatus

from qdispatch import JobFailedError, Provider, hookimpl
from qdispatch.plugins import get_plugin_manager
from qdispatch.testing import bell, plugin_registered, x_circuit

ORDER = [JobStatus.INITIALIZING, JobStatus.QUEUED, JobStatus.RUNNING]


def rank(status: JobStatus) -> int:
    """Order statuses as a job moves through them (final ones last)."""
    return ORDER.index(status) if status in ORDER else len(ORDER)


class StoreWatcher:
    """After each status change (and after autosave ran), read what the store holds for the job."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.seen: list[tuple[str, JobStatus, JobStatus]] = []

    @hookimpl(trylast=True)  # after autosave's implementation, which pluggy would otherwise call later (LIFO)
    def job_status_changed(self, job: Any, old: JobStatus, new: JobStatus) -> None:
        """Record the new status and the stored one."""
        self.seen.append((job.job_id(), new, self.provider.store.load(job.job_id()).status))


def store_options(store: str, tmp_path: Path) -> dict[str, str]:
    """Options putting ``store`` under ``tmp_path``."""
    return {"path": str(tmp_path / ("jobs" if store == "file" else "jobs.sqlite"))}


@pytest.mark.parametrize("store", ["file", "sqlite"])
def test_every_status_change_is_saved(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faulty_plugin: Path, faults
) -> None:
    monkeypatch.setenv("QDISPATCH_AUTOSAVE", "true")
    provider = Provider(store=store, store_options=store_options(store, tmp_path))
    assert provider.settings.autosave
    with (
        plugin_registered(get_plugin_manager(), StoreWatcher(provider), "store-watcher") as watcher,
        provider,
    ):
        done = provider.get_backend("aer").run([bell()] * 4, shots=30, max_circuits_per_task=1)
        failing = x_circuit(2, 1)
        failing.metadata = {"raise": "the device broke"}
        failed = provider.get_backend("faulty").run([bell(), failing], shots=30, max_circuits_per_task=1)
        counts = done.result(timeout=60).get_counts()
        with pytest.raises(JobFailedError):
            failed.result(timeout=60)
    # Closing the provider waited for the executor threads, and so for their saves.
    changes = len(watcher.seen)
    assert changes >= 2, watcher.seen
    for job_id, new, stored in watcher.seen:
        assert rank(stored) >= rank(new), f"{job_id}: store had {stored.name} after the move to {new.name}"
    assert {(j, n) for j, n, _ in watcher.seen} >= {
        (done.job_id(), JobStatus.DONE),
        (failed.job_id(), JobStatus.ERROR),
    }
    with Provider(store=store, store_options=store_options(store, tmp_path)) as reader:
        statuses = {s.job_id: s.status for s in reader.jobs()}
        assert statuses == {done.job_id(): JobStatus.DONE, failed.job_id(): JobStatus.ERROR}
        assert reader.store.load(done.job_id()).result.get_counts() == counts  # type: ignore[union-attr]
        assert "the device broke" in (reader.store.load(failed.job_id()).error_message or "")
    faults.record(
        "autosave",
        f"status changes of a finishing and a failing job with autosave on ({store} store)",
        changes,
        f"after each of the {changes} changes the store already held that status or a later one; "
        "the final records hold the result and the error message, without persist()",
    )


def test_autosave_off_saves_nothing(tmp_path: Path) -> None:
    with Provider(store="file", store_options={"path": str(tmp_path / "jobs")}) as provider:
        assert not provider.settings.autosave
        provider.get_backend("aer").run(bell(), shots=10).result(timeout=60)
        assert provider.jobs() == []


@pytest.mark.slow
@pytest.mark.parametrize("store", ["file", "sqlite"])
def test_a_crashed_program_can_list_and_restore_its_jobs(
    store: str, tmp_path: Path, faulty_plugin: Path, tools, faults
) -> None:
    options = store_options(store, tmp_path)
    hold = tmp_path / "hold"
    hold.touch()
    completed = subprocess.run(
        tools.helper("autosave_crash.py", store, options["path"], hold),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QDISPATCH_AUTOSAVE": "true"},
    )
    assert completed.returncode == -9, completed.stderr
    assert completed.stdout.strip() == "saved"
    hold.unlink()
    with Provider(store=store, store_options=options) as provider:
        assert {s.job_id: s.status for s in provider.jobs()} == {
            "quick-1": JobStatus.DONE,
            "held-1": JobStatus.RUNNING,
        }
        quick = provider.job("quick-1")
        assert quick.status() is JobStatus.DONE and not quick.resubmitted
        bell_counts, x_counts = quick.result().get_counts()
        assert set(bell_counts) <= {"00", "11"} and sum(bell_counts.values()) == 20
        assert x_counts == {"01": 20}
        with pytest.warns(RuntimeWarning, match="submitted again"):
            held = provider.job("held-1")
        assert held.resubmitted
        assert held.result(timeout=60).get_counts(1) == {"111": 20}
    faults.record(
        "autosave",
        f"SIGKILL of a program with one finished and one running job, never persisted ({store} store)",
        1,
        "both jobs listed after the crash (DONE and RUNNING); the finished one restores with its "
        "result, the running one is submitted again and finishes",
    )
