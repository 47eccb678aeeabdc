"""``qdispatch plugins``, ``qdispatch backends``, ``--version``, colours, and keeping imports light."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def test_plugins_lists_every_plugin_and_what_it_registers(qd: Any) -> None:
    rows = {row["plugin"]: row for row in json.loads(qd("plugins", "--json").stdout)}
    assert rows["example_vendor"]["distribution"] == "qdispatch-example-vendor"
    assert rows["example_vendor"]["registrations"] == {
        "backends": ["example_vendor"],
        "executors": ["example_serial"],
    }
    assert rows["sqlite"]["registers"] == "stores: sqlite" and rows["sqlite"]["status"] == "ok"
    table = qd.main("plugins")[0].splitlines()
    assert table[0].split() == ["plugin", "distribution", "version", "registers", "status"]
    vendor = next(line for line in table if line.startswith("example_vendor "))
    assert (
        "qdispatch-example-vendor" in vendor
        and "backends: example_vendor; executors: example_serial" in vendor
    )


def test_backends_lists_names_and_plugins(qd: Any) -> None:
    rows = json.loads(qd("backends", "--json").stdout)
    assert {"backend": "example_vendor", "plugin": "example_vendor"} in rows
    assert {"backend": "aer_noisy", "plugin": "aer"} in rows
    assert any(line.split() == ["aer", "aer"] for line in qd.main("backends")[0].splitlines())


def test_colours_only_on_a_terminal(qd: Any) -> None:
    assert "\x1b[" not in qd.main("plugins")[0]
    status, output = qd.tty("plugins")
    assert status == 0 and "\x1b[32mok" in output and "┃" in output
    status, output = qd.tty("plugins", NO_COLOR="1")
    assert status == 0 and "┃" in output and "\x1b[32m" not in output


def test_version_help_and_usage_errors(qd: Any) -> None:
    assert qd("--version").stdout.strip() == "qdispatch 0.1.0"
    helped = qd("--help").stdout
    for command in ("run", "jobs", "job", "cancel", "restore", "plugins", "backends", "check-plugin"):
        assert command in helped
    assert qd.errors(qd(expect=2).stderr) == [
        "error: the following arguments are required: COMMAND (see 'qdispatch --help')"
    ]


def test_importing_qdispatch_and_its_command_stays_light() -> None:
    probe = (
        "import sys, qdispatch, qdispatch.cli; "
        "print(sorted(m for m in ('rich', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
