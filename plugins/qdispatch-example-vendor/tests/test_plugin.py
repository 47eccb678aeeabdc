"""The plugin as qdispatch sees it: found by its entry point, registering both names, light to load."""

from __future__ import annotations

import subprocess
import sys

from qdispatch import make_plugin_manager


def test_registers_the_backend_and_the_executor_through_its_entry_point() -> None:
    pm = make_plugin_manager()
    assert pm.registration("backend", "example_vendor").plugin == "example_vendor"
    assert pm.registration("executor", "example_serial").plugin == "example_vendor"
    info = next(i for i in pm.plugin_infos() if i.name == "example_vendor")
    assert (info.distribution, info.version, info.error) == ("qdispatch-example-vendor", "0.1.0", None)
    assert info.registers == {"backends": ["example_vendor"], "executors": ["example_serial"]}


def test_can_be_disabled_by_name() -> None:
    pm = make_plugin_manager(disabled=["example_vendor"])
    assert "example_vendor" not in pm.names("backend")
    assert "example_serial" not in pm.names("executor")


def test_listing_plugins_does_not_import_aer() -> None:
    probe = (
        "import sys; from qdispatch import make_plugin_manager;"
        "pm = make_plugin_manager(); pm.names('backend');"
        "print('qdispatch_example_vendor.hooks' in sys.modules, "
        "'qdispatch_example_vendor.device' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["True", "False"]
