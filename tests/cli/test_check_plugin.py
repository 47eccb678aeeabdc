"""``qdispatch check-plugin`` and ``qdispatch.contract``: the built-ins pass, broken plugins are caught."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from qdispatch import InvalidInputError, JobNotFoundError, PluginManager, PluginNotFoundError, hookimpl
from qdispatch.contract import (
    BACKEND_CHECKS,
    EXECUTOR_CHECKS,
    STORE_CHECKS,
    check_backend,
    check_executor,
    check_plugin,
    check_store,
)
from qdispatch.jobids import validate_job_id


def test_the_command_checks_the_process_executor(qd: Any) -> None:
    report = json.loads(qd("check-plugin", "process", "--option", "max_workers=1", "--json").stdout)
    assert report["ok"] and (report["kind"], report["name"]) == ("executor", "process")
    outcomes = {c["name"]: c["outcome"] for c in report["checks"]}
    assert list(outcomes) == list(EXECUTOR_CHECKS)
    assert outcomes["cancel running"] == "passed"  # it ends the worker process
    assert outcomes["resume"] == "skipped"
    assert [k for k, v in outcomes.items() if v == "failed"] == []


def test_the_command_prints_a_table_and_a_verdict(qd: Any) -> None:
    completed = qd("check-plugin", "sqlite")
    lines = completed.stdout.splitlines()
    assert lines[0].split() == ["check", "outcome", "detail"]
    assert [line.split("  ")[0].strip() for line in lines[1:-1]] == list(STORE_CHECKS)
    assert lines[-1] == "store 'sqlite' keeps the contract"
    _, err = qd.main("check-plugin", "nope", expect=1)
    assert err.startswith("error: unknown executor, store or backend 'nope'; available: aer")


@pytest.mark.parametrize("name", ["thread", "example_serial"])
def test_built_in_and_vendor_executors_keep_the_contract(name: str) -> None:
    report = check_executor(name, backend="example_vendor" if name == "example_serial" else None)
    report.assert_ok()
    assert report.outcome("cancel queued") == "passed"
    assert report.outcome("cancel running") == "skipped"  # a thread cannot be stopped; neither claims to
    assert report.outcome("persist/restore round trip") == "passed"


@pytest.mark.parametrize("name", ["file", "sqlite"])
def test_built_in_stores_keep_the_whole_contract(name: str) -> None:
    report = check_store(name)
    assert [(c.name, c.outcome) for c in report.checks] == [(n, "passed") for n in STORE_CHECKS], str(report)


def test_backends_are_checked_too() -> None:
    report = check_backend("aer")
    report.assert_ok()
    assert {c.outcome for c in report.checks} == {"passed"}


# -- plugins that break the contract, one way each ------------------------------------


class PoolExecutor:
    """A correct executor: one thread, a real pool."""

    max_workers = 1

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(1)

    def submit(self, task: Any) -> Future[Any]:
        return self.pool.submit(task.run)

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=True)


class InlineExecutor(PoolExecutor):
    """Runs the task inside submit()."""

    def submit(self, task: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(task.run())
        return future


class SwallowingExecutor(PoolExecutor):
    """Turns a task's exception into a None result."""

    def submit(self, task: Any) -> Future[Any]:
        def run() -> Any:
            try:
                return task.run()
            except Exception:
                return None

        return self.pool.submit(run)


class BoastfulExecutor(PoolExecutor):
    """Claims to stop running tasks, and does not."""

    def cancel(self, future: Future[Any]) -> bool:
        return True


class ForgetfulExecutor(PoolExecutor):
    """Waits for its tasks on shutdown, then keeps accepting new ones."""

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait)
        self.pool = ThreadPoolExecutor(1)


_memory: dict[str, dict[str, Any]] = {}
_memory_lock = threading.Lock()


class MemoryStore:
    """A correct store in memory, shared by every instance with the same path."""

    def __init__(self, path: str | None = None) -> None:
        with _memory_lock:
            self.records = _memory.setdefault(str(path), {})

    def save(self, record: Any) -> str:
        self.records[validate_job_id(record.job_id)] = record
        return f"memory:{record.job_id}"

    def load(self, job_id: str) -> Any:
        try:
            return self.records[validate_job_id(job_id)]
        except KeyError:
            raise JobNotFoundError(job_id) from None

    def delete(self, job_id: str) -> None:
        self.load(job_id)
        del self.records[job_id]

    def list(self, *, status: Any = None, backend: Any = None, tag: Any = None, limit: Any = None) -> list[Any]:
        found = [r for r in self.records.values() if (status is None or r.status is status)
                 and (backend is None or r.backend == backend) and (tag is None or tag in r.tags)]
        found.sort(key=lambda r: r.created_at, reverse=True)
        return [r.summary() for r in found[:limit]]

    def close(self) -> None:
        pass


class TagLosingStore(MemoryStore):
    def save(self, record: Any) -> str:
        import attrs

        return super().save(attrs.evolve(record, tags=()))


class TrustingStore(MemoryStore):
    def load(self, job_id: str) -> Any:
        try:
            return self.records[job_id]
        except KeyError:
            raise JobNotFoundError(job_id) from None


class UnsortedStore(MemoryStore):
    def list(self, **filters: Any) -> list[Any]:
        return sorted(super().list(**filters), key=lambda s: s.job_id)


class ForgettingStore(MemoryStore):
    def __init__(self, path: str | None = None) -> None:
        self.records = {}


class SubmitOnly:
    """Half an executor (no shutdown), half a store (no load, delete, list or close), half a device."""

    def __init__(self, path: str | None = None) -> None:
        self.name = "submit_only"

    def submit(self, task: Any) -> Future[Any]:
        return Future()

    def save(self, record: Any) -> str:
        return "nowhere"

    def run_circuits(self, circuits: Any, shots: int, run_options: Any) -> Any:
        raise NotImplementedError


class Broken:
    @hookimpl
    def register_executors(self, register: Any) -> None:
        for name, cls in (("pool", PoolExecutor), ("inline", InlineExecutor), ("swallowing", SwallowingExecutor),
                          ("boastful", BoastfulExecutor), ("forgetful", ForgetfulExecutor), ("twin", PoolExecutor),
                          ("submit_only", SubmitOnly)):
            register(name, cls)

    @hookimpl
    def register_stores(self, register: Any) -> None:
        for name, cls in (("memory", MemoryStore), ("tag_losing", TagLosingStore), ("trusting", TrustingStore),
                          ("unsorted", UnsortedStore), ("forgetting", ForgettingStore), ("twin", MemoryStore),
                          ("half_store", SubmitOnly)):
            register(name, cls)

    @hookimpl
    def register_backends(self, register: Any) -> None:
        register("half_device", SubmitOnly)


@pytest.fixture
def broken(plugin_manager: PluginManager) -> Iterator[PluginManager]:
    plugin_manager.register(Broken(), name="broken-on-purpose")
    try:
        yield plugin_manager
    finally:
        plugin_manager.unregister(name="broken-on-purpose")


def failed(report: Any) -> list[str]:
    return [c.name for c in report.failed]


def test_correct_test_doubles_pass(broken: PluginManager) -> None:
    check_executor("pool", timeout=10).assert_ok()
    check_store("memory").assert_ok()


@pytest.mark.parametrize(("name", "check", "says"), [
    ("inline", "submit", "did not return while the task was still running"),
    ("swallowing", "error", "gave a result instead of an exception"),
    ("boastful", "cancel running", "returned True, yet the task finished with a result"),
    ("forgetful", "shutdown", "after shutdown() returned a future"),
])
def test_broken_executors_fail_the_check_they_break(broken: PluginManager, name: str, check: str, says: str) -> None:
    report = check_executor(name, timeout=3)
    assert check in failed(report), str(report)
    assert says in next(c.detail for c in report.checks if c.name == check)


@pytest.mark.parametrize(("name", "check", "says"), [
    ("tag_losing", "save and load", "fields changed between save and load: tags"),
    ("trusting", "job ids", "not InvalidJobIdError"),
    ("unsorted", "list", "list(no filter) gave"),
    ("forgetting", "reopen", "JobNotFoundError"),
])
def test_broken_stores_fail_the_check_they_break(broken: PluginManager, name: str, check: str, says: str) -> None:
    report = check_store(name)
    assert check in failed(report), str(report)
    assert says in next(c.detail for c in report.checks if c.name == check)


@pytest.mark.parametrize(("check", "name", "names", "lacks"), [
    (check_executor, "submit_only", EXECUTOR_CHECKS, "lacks shutdown"),
    (check_store, "half_store", STORE_CHECKS, "lacks close, delete, list, load"),
    (check_backend, "half_device", BACKEND_CHECKS,
     "lacks max_circuits, max_shots, provenance, target"),
])
def test_an_object_missing_part_of_its_protocol_fails_create_and_skips_the_rest(
    broken: PluginManager, check: Any, name: str, names: tuple[str, ...], lacks: str
) -> None:
    report = check(name)
    assert [c.name for c in report.checks] == list(names)
    assert report.checks[0].outcome == "failed"
    assert report.checks[0].detail == f"SubmitOnly {lacks}"
    assert all(c.outcome == "skipped" and "could not be created" in c.detail for c in report.checks[1:])


def test_the_command_reports_failures_with_exit_status_1(qd: Any, broken: PluginManager) -> None:
    out, _ = qd.main("check-plugin", "tag_losing", expect=1)
    assert out.splitlines()[-1].startswith("store 'tag_losing' fails ")
    row = next(line for line in out.splitlines() if line.startswith("save and load"))
    assert "failed" in row and "tags" in row


def test_names_are_resolved_by_kind(broken: PluginManager) -> None:
    with pytest.raises(InvalidInputError, match="'twin' is registered as executor and store; say which with --kind"):
        check_plugin("twin")
    assert check_plugin("twin", "store").kind == "store"
    with pytest.raises(PluginNotFoundError, match=r"available: .*memory.*pool"):
        check_plugin("nothing")
