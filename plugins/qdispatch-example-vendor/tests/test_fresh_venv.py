"""pip-installing the plugin is all a user needs: wheels into a fresh virtual environment.

The core, qdispatch-aer and this plugin are built as wheels from copies of
their source trees and installed with pip into a new virtual environment
(their dependencies, Qiskit and Aer, come from pip's index or cache; nothing
is compiled ahead, to save time); then the
``qdispatch`` command of that environment lists the plugin and runs a job
on its backend.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[1]
ROOT = PLUGIN.parents[1]
SOURCES = {
    "qdispatch": ROOT / "core",
    "qdispatch-aer": ROOT / "plugins" / "qdispatch-aer",
    "qdispatch-example-vendor": PLUGIN,
}
BELL = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0], q[1];
measure q -> c;
"""


def run(
    *command: str | Path, env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [str(c) for c in command], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert completed.returncode == 0, f"{command} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed


@pytest.mark.slow
def test_wheels_installed_in_a_fresh_venv_give_a_working_plugin(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    sources = tmp_path / "src"
    for name, path in SOURCES.items():  # copies, so building writes nothing into the repository
        shutil.copytree(
            path, sources / name, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests")
        )
    wheels = tmp_path / "wheels"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--quiet",
        "--wheel-dir",
        wheels,
        *(sources / name for name in SOURCES),
        env=env,
        cwd=tmp_path,
    )
    built = sorted(p.name for p in wheels.glob("*.whl"))
    assert [w.split("-")[0] for w in built] == ["qdispatch", "qdispatch_aer", "qdispatch_example_vendor"]

    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=False)  # this environment's pip installs into it (``pip --python``): faster
    bin_dir = fresh / ("Scripts" if os.name == "nt" else "bin")
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        bin_dir / "python",
        "install",
        "--quiet",
        "--no-compile",
        *sorted(wheels.glob("*.whl")),
        env=env,
        cwd=tmp_path,
    )

    where = run(
        bin_dir / "python",
        "-c",
        "import qdispatch, qdispatch_example_vendor as v; print(v.__file__)",
        env=env,
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(where).is_relative_to(fresh), "the plugin must come from the fresh environment"

    qdispatch = bin_dir / "qdispatch"
    plugins = {
        row["plugin"]: row
        for row in json.loads(run(qdispatch, "plugins", "--json", env=env, cwd=tmp_path).stdout)
    }
    assert plugins["example_vendor"]["distribution"] == "qdispatch-example-vendor"
    assert plugins["example_vendor"]["status"] == "ok"
    assert plugins["example_vendor"]["registrations"] == {
        "backends": ["example_vendor"],
        "executors": ["example_serial"],
    }
    assert set(plugins) >= {"aer", "example_vendor", "file", "process", "sqlite", "thread"}
    assert {row["status"] for row in plugins.values()} == {"ok"}

    backends = json.loads(run(qdispatch, "backends", "--json", env=env, cwd=tmp_path).stdout)
    assert {"backend": "example_vendor", "plugin": "example_vendor"} in backends

    (tmp_path / "bell.qasm").write_text(BELL)
    job = json.loads(
        run(
            qdispatch,
            "run",
            "bell.qasm",
            "--backend",
            "example_vendor",
            "--shots",
            "400",
            "--seed",
            "5",
            "--json",
            env=env,
            cwd=tmp_path,
        ).stdout
    )
    assert (job["status"], job["backend"], job["executor"]) == ("DONE", "example_vendor", "example_serial")
    assert sum(job["counts"].values()) == 400
    assert job["counts"].get("00", 0) + job["counts"].get("11", 0) > 300

    stored = json.loads(run(qdispatch, "jobs", "--json", env=env, cwd=tmp_path).stdout)
    assert [row["job_id"] for row in stored] == [job["job_id"]]

    # matplotlib is not a dependency: --plot says what to install, in one line.
    plot = subprocess.run(
        [str(qdispatch), "job", job["job_id"], "--plot", "h.png"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plot.returncode == 1
    assert plot.stderr.strip().splitlines()[-1].startswith("error: --plot needs matplotlib")
