"""Bad input, table-driven: each case raises a typed qdispatch error with a clear message.

And the store is unchanged.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Gate, Parameter

from qdispatch import (
    ConfigurationError,
    InvalidInputError,
    InvalidJobIdError,
    Job,
    JobNotFoundError,
    PluginNotFoundError,
    Provider,
    QDispatchError,
    StoreError,
    load_settings,
)
from qdispatch.circuit_files import load_qasm
from qdispatch.records import JobRecord
from qdispatch.stores.file import FileStore
from qdispatch.stores.sqlite import SqliteStore
from qdispatch.testing import bell

ROOT = os.geteuid() == 0


@attrs.define
class Ctx:
    """What a case may use: the provider on the watched store, a scratch directory, the isolated home."""

    provider: Provider
    tmp: Path
    home: Path
    monkeypatch: pytest.MonkeyPatch

    def run(self, run_input: Any, backend: str = "aer", **options: Any) -> Any:
        """``backend.run`` on the watched provider."""
        return self.provider.get_backend(backend).run(run_input, **options)

    def file(self, name: str, content: str | bytes) -> Path:
        """Write a scratch file and return its path."""
        path = self.tmp / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def config(self, content: str | bytes) -> Any:
        """Write the configuration file and read it as ``Provider()`` would."""
        self.file("config.toml", content)
        self.monkeypatch.setenv("QDISPATCH_CONFIG", str(self.tmp / "config.toml"))
        return load_settings()

    def env(self, name: str, value: str) -> Any:
        """Set an environment variable and read the settings as ``Provider()`` would."""
        self.monkeypatch.setenv(name, value)
        return load_settings()

    def unwritable(self) -> Path:
        """A directory this process cannot create files in."""
        if ROOT:  # permissions do not stop root; procfs refuses new files to everyone
            return Path("/proc")
        locked = self.tmp / "locked"
        locked.mkdir(mode=0o500)
        return locked


@attrs.frozen
class Case:
    """One bad input: what to do, the error it must raise, and a pattern its message must contain."""

    name: str
    action: Callable[[Ctx], Any]
    error: type[QDispatchError]
    message: str
    cli: Callable[[Ctx], list[str]] | None = None
    known_bug: str | None = None


def wide(n: int) -> QuantumCircuit:
    """An ``n``-qubit circuit that only measures."""
    circuit = QuantumCircuit(n)
    circuit.measure_all()
    return circuit


def mystery_gate() -> QuantumCircuit:
    """A circuit with an instruction no backend knows."""
    circuit = QuantumCircuit(1)
    circuit.append(Gate("mystery", 1, []), [0])
    circuit.measure_all()
    return circuit


def unbound(*names: str) -> QuantumCircuit:
    """A circuit with unbound parameters."""
    circuit = QuantumCircuit(1)
    for name in names:
        circuit.rx(Parameter(name), 0)
    circuit.measure_all()
    return circuit


def with_h() -> QuantumCircuit:
    """A circuit using ``h`` (not in the ``aer_noisy`` basis)."""
    circuit = QuantumCircuit(1)
    circuit.h(0)
    circuit.measure_all()
    return circuit


QASM2_UNDEFINED_GATE = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nfoo q[0];\n'
QASM2_UNDEFINED_REGISTER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nh r[0];\n'
QASM2_SYNTAX = "OPENQASM 2.0;\nqreg q[1;\n"
QASM3_UNDEFINED_GATE = "OPENQASM 3.0;\nqubit q;\nmystery q;\n"
NOT_QASM = "this is not a circuit\n"


def qasm_case(name: str, content: str | bytes | None, message: str) -> Case:
    """A circuit file given to ``load_qasm`` and to ``qdispatch run``."""

    def path(ctx: Ctx) -> Path:
        return ctx.tmp / f"{name}.qasm" if content is None else ctx.file(f"{name}.qasm", content)

    return Case(
        f"qasm file: {name}",
        lambda ctx: load_qasm(path(ctx)),
        InvalidInputError,
        message,
        cli=lambda ctx: ["run", str(path(ctx)), "--store-path", str(ctx.tmp / "cli-store")],
    )


def job_id_cases() -> list[Case]:
    """Malformed job ids, through ``provider.job``, ``backend.run(job_id=...)`` and the stores."""
    bad = {
        "empty": ("", "must not be empty"),
        "too long": ("a" * 129, "129 characters long; at most 128"),
        "path traversal": ("../etc/passwd", "invalid job id"),
        "slash": ("a/b", "invalid job id"),
        "backslash": ("a\\b", "invalid job id"),
        "dot-dot": ("..", "invalid job id"),
        "NUL": ("a\x00b", "invalid job id"),
        "SQL": ("x'; DROP TABLE jobs; --", "invalid job id"),
        "space": ("a b", "invalid job id"),
        "hidden file": (".hidden", "invalid job id"),
        "not a string": (123, "must be a string, not int"),
    }
    cases = [
        Case(f"provider.job: {label}", lambda ctx, v=value: ctx.provider.job(v), InvalidJobIdError, message)
        for label, (value, message) in bad.items()
    ]
    cases += [
        Case(
            f"backend.run job_id: {label}",
            lambda ctx, v=bad[label][0]: ctx.run(bell(), job_id=v),
            InvalidJobIdError,
            bad[label][1],
        )
        for label in ("path traversal", "NUL", "SQL", "too long")
    ]
    cases.append(
        Case(
            "backend.run job_id: empty",
            lambda ctx: ctx.run(bell(), job_id=""),
            InvalidJobIdError,
            "must not be empty",
        )
    )
    cases += [
        Case(
            "store.load: dot-dot",
            lambda ctx: ctx.provider.store.load("../jobs"),
            InvalidJobIdError,
            "invalid job id",
        ),
        Case(
            "store.delete: slash",
            lambda ctx: ctx.provider.store.delete("a/b"),
            InvalidJobIdError,
            "invalid job id",
        ),
        Case(
            "file store load: traversal",
            lambda ctx: FileStore(ctx.tmp / "files").load("../../etc/passwd"),
            InvalidJobIdError,
            "invalid job id",
        ),
        Case(
            "file store save: traversal",
            lambda ctx: FileStore(ctx.tmp / "files").save(
                attrs.evolve(ctx.provider.store.load("seed-1"), job_id="../escape")
            ),
            InvalidJobIdError,
            "invalid job id",
        ),
    ]
    return cases


CASES: list[Case] = [
    # -- what backend.run is given
    Case(
        "run: None",
        lambda ctx: ctx.run(None),
        InvalidInputError,
        "runs a QuantumCircuit or a list of them, not NoneType",
    ),
    Case("run: a string", lambda ctx: ctx.run("OPENQASM 2.0;"), InvalidInputError, "not str"),
    Case("run: an int", lambda ctx: ctx.run(42), InvalidInputError, "not int"),
    Case("run: a dict", lambda ctx: ctx.run({"c": bell()}), InvalidInputError, "not dict"),
    Case("run: empty list", lambda ctx: ctx.run([]), InvalidInputError, "no circuits given to backend 'aer'"),
    Case("run: empty tuple", lambda ctx: ctx.run(()), InvalidInputError, "no circuits given"),
    Case(
        "run: list with a string",
        lambda ctx: ctx.run([bell(), "x"]),
        InvalidInputError,
        "item 1 given to backend 'aer' is a str, not a QuantumCircuit",
    ),
    Case("run: list with None", lambda ctx: ctx.run([None]), InvalidInputError, "item 0 .* is a NoneType"),
    Case(
        "run: wider than aer",
        lambda ctx: ctx.run(wide(31)),
        InvalidInputError,
        "has 31 qubits; backend 'aer' has 30",
    ),
    Case(
        "run: wider than aer_noisy(num_qubits=2)",
        lambda ctx: ctx.provider.get_backend("aer_noisy", num_qubits=2).run(wide(3)),
        InvalidInputError,
        "has 3 qubits; backend 'aer_noisy' has 2",
    ),
    Case(
        "run: unknown instruction",
        lambda ctx: ctx.run(mystery_gate()),
        InvalidInputError,
        "uses mystery, not supported by backend 'aer'; run transpile",
    ),
    Case(
        "run: gate outside aer_noisy's basis",
        lambda ctx: ctx.run(with_h(), backend="aer_noisy"),
        InvalidInputError,
        "uses h, not supported by backend 'aer_noisy'",
    ),
    Case(
        "run: unbound parameter",
        lambda ctx: ctx.run(unbound("theta")),
        InvalidInputError,
        r"unbound parameters \(theta\); bind them",
    ),
    Case(
        "run: two unbound parameters",
        lambda ctx: ctx.run([bell(), unbound("beta", "alpha")]),
        InvalidInputError,
        r"circuit 1 .* unbound parameters \(alpha, beta\)",
    ),
    # -- shots
    Case(
        "shots: 0", lambda ctx: ctx.run(bell(), shots=0), InvalidInputError, "shots must be at least 1, not 0"
    ),
    Case("shots: negative", lambda ctx: ctx.run(bell(), shots=-5), InvalidInputError, "at least 1, not -5"),
    Case(
        "shots: fractional",
        lambda ctx: ctx.run(bell(), shots=1.5),
        InvalidInputError,
        "whole number, not 1.5",
    ),
    Case(
        "shots: NaN",
        lambda ctx: ctx.run(bell(), shots=float("nan")),
        InvalidInputError,
        "whole number, not nan",
    ),
    Case(
        "shots: a string",
        lambda ctx: ctx.run(bell(), shots="100"),
        InvalidInputError,
        "whole number, not '100'",
    ),
    Case(
        "shots: a bool", lambda ctx: ctx.run(bell(), shots=True), InvalidInputError, "whole number, not True"
    ),
    Case("shots: None", lambda ctx: ctx.run(bell(), shots=None), InvalidInputError, "whole number, not None"),
    Case(
        "shots: above the maximum",
        lambda ctx: ctx.run(bell(), shots=10_000_001),
        InvalidInputError,
        r"shots=10000001 is above the maximum of backend 'aer' \(10000000\)",
    ),
    # -- tags and chunking
    Case(
        "tags: a string",
        lambda ctx: ctx.run(bell(), tags="nightly"),
        InvalidInputError,
        "tags must be a list of strings",
    ),
    Case(
        "tags: empty tag",
        lambda ctx: ctx.run(bell(), tags=[""]),
        InvalidInputError,
        "each tag must be a string of 1 to 200",
    ),
    Case("tags: not a string", lambda ctx: ctx.run(bell(), tags=[3]), InvalidInputError, "not 3"),
    Case(
        "tags: too long",
        lambda ctx: ctx.run(bell(), tags=["x" * 201]),
        InvalidInputError,
        "1 to 200 characters",
    ),
    Case(
        "max_circuits_per_task: 0",
        lambda ctx: ctx.run(bell(), max_circuits_per_task=0),
        InvalidInputError,
        "option 'max_circuits_per_task' must be a positive whole number, not 0",
    ),
    Case(
        "max_circuits_per_task: negative",
        lambda ctx: ctx.run(bell(), max_circuits_per_task=-1),
        InvalidInputError,
        "positive whole number, not -1",
    ),
    Case(
        "max_circuits_per_task: a string",
        lambda ctx: ctx.run(bell(), max_circuits_per_task="2"),
        InvalidInputError,
        "positive whole number, not '2'",
    ),
    # -- unknown names list the available ones
    Case(
        "unknown backend",
        lambda ctx: ctx.provider.get_backend("nope"),
        PluginNotFoundError,
        "unknown backend 'nope'; available: .*aer, aer_noisy",
    ),
    Case(
        "unknown executor",
        lambda ctx: Provider(executor="nope"),
        PluginNotFoundError,
        "unknown executor 'nope'; available: .*process.*thread",
    ),
    Case(
        "unknown store",
        lambda ctx: Provider(store="nope"),
        PluginNotFoundError,
        "unknown store 'nope'; available: .*file.*sqlite",
    ),
    Case(
        "unknown executor, asked of a provider",
        lambda ctx: ctx.provider.executor("nope"),
        PluginNotFoundError,
        "unknown executor 'nope'; available:",
    ),
    # -- malformed option values
    Case(
        "aer: unknown method",
        lambda ctx: ctx.provider.get_backend("aer", method="nonsense"),
        ConfigurationError,
        "invalid options for Aer backend 'aer': .*nonsense",
    ),
    Case(
        "aer: unknown device",
        lambda ctx: ctx.provider.get_backend("aer", device="TPU"),
        ConfigurationError,
        "device must be one of CPU, GPU, not 'TPU'",
    ),
    Case(
        "aer: negative seed",
        lambda ctx: ctx.provider.get_backend("aer", seed_simulator=-1),
        ConfigurationError,
        "seed_simulator must be a non-negative integer, not -1",
    ),
    Case(
        "aer: seed a string",
        lambda ctx: ctx.provider.get_backend("aer", seed_simulator="x"),
        ConfigurationError,
        "seed_simulator must be a non-negative integer, not 'x'",
    ),
    Case(
        "aer: unknown option",
        lambda ctx: ctx.provider.get_backend("aer", bogus=1),
        ConfigurationError,
        "unknown option 'bogus' for backend 'aer'; accepted: .*seed_simulator",
    ),
    Case(
        "aer_noisy: probability above 1",
        lambda ctx: ctx.provider.get_backend("aer_noisy", depolarizing_1q=2.0),
        ConfigurationError,
        r"'depolarizing_1q' must be a probability in \[0, 1\], not 2.0",
    ),
    Case(
        "aer_noisy: t1 without t2",
        lambda ctx: ctx.provider.get_backend("aer_noisy", t1=1e-4),
        ConfigurationError,
        "give both t1 and t2",
    ),
    Case(
        "aer_noisy: malformed noise model",
        lambda ctx: ctx.provider.get_backend("aer_noisy", noise_model={"errors": "x"}),
        ConfigurationError,
        "noise_model is not a valid NoiseModel dictionary",
    ),
    Case(
        "thread: max_workers 0",
        lambda ctx: Provider(executor="thread", executor_options={"max_workers": 0}).executor(),
        InvalidInputError,
        "option 'max_workers' of executor 'thread' must be a positive whole number, not 0",
    ),
    Case(
        "process: max_workers a string",
        lambda ctx: Provider(executor="process", executor_options={"max_workers": "two"}).executor(),
        InvalidInputError,
        "option 'max_workers' of executor 'process' must be a positive whole number, not 'two'",
    ),
    Case(
        "thread: unknown option",
        lambda ctx: Provider(executor="thread", executor_options={"workers": 2}),
        ConfigurationError,
        "unknown option 'workers' for executor 'thread'; accepted: max_workers",
    ),
    Case(
        "sqlite: negative timeout",
        lambda ctx: (
            Provider(store="sqlite", store_options={"path": str(ctx.tmp / "t.sqlite"), "timeout": -1}).store
        ),
        ConfigurationError,
        "option 'timeout' of store 'sqlite' must be a finite number above 0, not -1",
    ),
    Case(
        "file store: unknown option",
        lambda ctx: Provider(store="file", store_options={"compress": True}),
        ConfigurationError,
        "unknown option 'compress' for store 'file'; accepted: path",
    ),
    # -- job ids
    *job_id_cases(),
    # -- missing jobs
    Case(
        "restore a missing id",
        lambda ctx: Job.restore("missing-1", provider=ctx.provider),
        JobNotFoundError,
        "job 'missing-1' not found in the sqlite store",
    ),
    Case(
        "provider.job of a missing id",
        lambda ctx: ctx.provider.job("missing-2"),
        JobNotFoundError,
        "job 'missing-2' not found",
    ),
    Case(
        "delete a missing id",
        lambda ctx: ctx.provider.store.delete("missing-3"),
        JobNotFoundError,
        "job 'missing-3' not found",
    ),
    Case(
        "file store: restore a missing id",
        lambda ctx: FileStore(ctx.tmp / "files").load("missing-4"),
        JobNotFoundError,
        "job 'missing-4' not found in the file store",
    ),
    # -- store locations
    Case(
        "file store path is a file",
        lambda ctx: FileStore(ctx.file("plain", "x")),
        StoreError,
        "exists and is not a directory",
    ),
    Case(
        "sqlite path is a directory",
        lambda ctx: SqliteStore(ctx.tmp),
        StoreError,
        "is a directory, not a file",
    ),
    Case(
        "sqlite path below a file",
        lambda ctx: SqliteStore(ctx.file("plain", "x") / "jobs.sqlite"),
        StoreError,
        "exists and is not a directory",
    ),
    Case(
        "file store path unwritable",
        lambda ctx: FileStore(ctx.unwritable() / "jobs").save(ctx.provider.store.load("seed-1")),
        StoreError,
        "cannot create store directory|not writable",
    ),
    Case(
        "sqlite path unwritable",
        lambda ctx: SqliteStore(ctx.unwritable() / "jobs.sqlite"),
        StoreError,
        "cannot create store file|not writable",
    ),
    Case(
        "sqlite path holds text",
        lambda ctx: SqliteStore(ctx.file("text.sqlite", "hello\n" * 200)),
        StoreError,
        "is damaged or not a database",
    ),
    # -- configuration
    Case(
        "config: bad TOML", lambda ctx: ctx.config("executor = \n"), ConfigurationError, "is not valid TOML"
    ),
    Case(
        "config: unknown key",
        lambda ctx: ctx.config('colour = "blue"\n'),
        ConfigurationError,
        "unknown key 'colour'; known keys:",
    ),
    Case(
        "config: executor a number",
        lambda ctx: ctx.config("executor = 3\n"),
        ConfigurationError,
        "'executor' must be a str, not 3",
    ),
    Case(
        "config: options not a table",
        lambda ctx: ctx.config("[executors]\nprocess = 2\n"),
        ConfigurationError,
        r"\[executors.process\] must be a table of options",
    ),
    Case(
        "config: max_circuits_per_task 0",
        lambda ctx: ctx.config("max_circuits_per_task = 0\n"),
        ConfigurationError,
        "'max_circuits_per_task' must be at least 1",
    ),
    Case(
        "config: autosave a string",
        lambda ctx: ctx.config('autosave = "yes"\n'),
        ConfigurationError,
        "'autosave' must be a bool, not 'yes'",
    ),
    Case(
        "config: not UTF-8",
        lambda ctx: ctx.config(b"executor = '\xff\xfe'\n"),
        ConfigurationError,
        "is not UTF-8 text",
    ),
    Case(
        "config: unknown option of a plugin",
        lambda ctx: (ctx.config("[stores.sqlite]\ncolour = 1\n"), Provider()),
        ConfigurationError,
        "unknown option 'colour' for store 'sqlite'",
    ),
    Case(
        "env: malformed option variable",
        lambda ctx: ctx.env("QDISPATCH_EXECUTORS__PROCESS", "2"),
        ConfigurationError,
        "expected QDISPATCH_<SECTION>__<PLUGIN>__<OPTION>",
    ),
    Case(
        "env: autosave not a bool",
        lambda ctx: ctx.env("QDISPATCH_AUTOSAVE", "maybe"),
        ConfigurationError,
        "'autosave' must be a bool, not 'maybe'",
    ),
    Case(
        "env: negative max_circuits_per_task",
        lambda ctx: ctx.env("QDISPATCH_MAX_CIRCUITS_PER_TASK", "-3"),
        ConfigurationError,
        "'max_circuits_per_task' must be at least 1",
    ),
    # -- listing filters
    Case(
        "jobs: unknown status",
        lambda ctx: ctx.provider.jobs(status="NOPE"),
        InvalidInputError,
        "unknown status 'NOPE'; use one of",
    ),
    Case(
        "jobs: SQL in the status",
        lambda ctx: ctx.provider.jobs(status="DONE' OR 1=1 --"),
        InvalidInputError,
        "unknown status",
    ),
    Case(
        "jobs: negative limit",
        lambda ctx: ctx.provider.jobs(limit=-1),
        InvalidInputError,
        "limit must be a non-negative integer, not -1",
    ),
    Case(
        "jobs: limit a string",
        lambda ctx: ctx.provider.jobs(limit="10"),
        InvalidInputError,
        "limit must be a non-negative integer, not '10'",
    ),
    # -- circuit files (also through `qdispatch run`)
    qasm_case(
        "undefined gate (OpenQASM 2)",
        QASM2_UNDEFINED_GATE,
        "is not a valid OpenQASM program: .*'foo' is not defined",
    ),
    qasm_case(
        "undefined register (OpenQASM 2)", QASM2_UNDEFINED_REGISTER, "is not a valid OpenQASM program: .*'r'"
    ),
    qasm_case("syntax error (OpenQASM 2)", QASM2_SYNTAX, "is not a valid OpenQASM program"),
    qasm_case(
        "undefined gate (OpenQASM 3)", QASM3_UNDEFINED_GATE, "is not a valid OpenQASM program: .*'mystery'"
    ),
    qasm_case("no OPENQASM line", NOT_QASM, "does not start with 'OPENQASM 2.0;' or 'OPENQASM 3.0;'"),
    qasm_case("empty", "", "does not start with 'OPENQASM"),
    qasm_case("binary", b"\xff\xfe\x00garbage", "cannot read circuit file .*can't decode"),
    qasm_case("missing", None, "no such circuit file"),
]


def listing(provider: Provider) -> list[tuple[str, str]]:
    """The store's listing, as comparable tuples."""
    return [(s.job_id, s.status.name) for s in provider.store.list()]


@pytest.fixture
def ctx(tmp_path: Path, qdispatch_home: Path, monkeypatch: pytest.MonkeyPatch, done_record: JobRecord) -> Any:
    """A provider whose sqlite store holds two jobs, and a scratch directory."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    provider = Provider(store="sqlite", store_options={"path": str(tmp_path / "watched" / "jobs.sqlite")})
    for job_id in ("seed-1", "seed-2"):
        provider.store.save(attrs.evolve(done_record, job_id=job_id))
    yield Ctx(provider, scratch, qdispatch_home, monkeypatch)
    provider.close()


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 50
    assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            c, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=c.known_bug)] if c.known_bug else []
        )
        for c in CASES
    ],
)
def test_bad_input(case: Case, ctx: Ctx, tools, faults, capsys: pytest.CaptureFixture[str]) -> None:
    watched = ctx.provider.store.path  # type: ignore[attr-defined]
    before = (listing(ctx.provider), tools.store_bytes(watched))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # other plugins' load warnings are not the point here
        with pytest.raises(QDispatchError) as caught:
            case.action(ctx)
    error = caught.value
    assert type(error) is case.error or isinstance(error, case.error), f"{type(error).__name__}: {error}"
    message = str(error)
    assert re.search(case.message, message), message
    assert message.strip() and "Traceback" not in message and len(message) < 600
    assert (listing(ctx.provider), tools.store_bytes(watched)) == before, "the store changed"
    if isinstance(error, PluginNotFoundError):
        assert error.available, "the error must list the available names"
    via = ""
    if case.cli is not None:
        from qdispatch import cli

        ctx.monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # main() replaces it
        capsys.readouterr()
        with warnings.catch_warnings():
            code = cli.main(case.cli(ctx))
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1
        assert [line for line in err if line.startswith("error: ")] == [f"error: {message}"]
        assert not any("Traceback" in line for line in err)
        assert not (ctx.tmp / "cli-store").exists(), "qdispatch run touched a store before reading its file"
        via = "; `qdispatch run` exits 1 with the same one-line error"
    shown = message if len(message) <= 200 else message[:200].rsplit(" ", 1)[0] + " ..."
    faults.record("bad input", case.name, 1, f"{type(error).__name__}: {shown}{via}; store unchanged")
