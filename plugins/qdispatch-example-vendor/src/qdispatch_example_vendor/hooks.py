"""The hook implementations qdispatch calls: this module is the plugin.

The entry point in ``pyproject.toml`` names this module. qdispatch imports it
whenever it builds its catalogue (every ``qdispatch`` command does), so keep it
light: the device (which needs Qiskit and Aer) is imported inside its factory,
on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdispatch import hookimpl

if TYPE_CHECKING:
    from qdispatch.plugins import Register
    from qdispatch_example_vendor.device import VendorDevice
    from qdispatch_example_vendor.executor import SerialExecutor

BACKEND_NAME = "example_vendor"
"""The backend name users pass to ``provider.get_backend``."""

EXECUTOR_NAME = "example_serial"
"""The executor name; the device runs on it (see ``VendorDevice.executor``)."""


@hookimpl
def register_backends(register: Register) -> None:
    """Register the ``example_vendor`` backend."""
    register(BACKEND_NAME, example_vendor)


@hookimpl
def register_executors(register: Register) -> None:
    """Register the ``example_serial`` executor."""
    register(EXECUTOR_NAME, example_serial)


# Factories: qdispatch calls them with the options a user gave (keyword
# arguments to ``get_backend``, a ``[backends.example_vendor]`` table in the
# configuration file, or ``QDISPATCH_BACKENDS__EXAMPLE_VENDOR__<OPTION>``).
# Their signatures are the options: qdispatch rejects any other name, listing
# these, so give every option a default and a type.


def example_vendor(
    seed_simulator: int | None = None,
    error_1q: float = 0.001,
    error_2q: float = 0.01,
    readout_error: float = 0.02,
) -> VendorDevice:
    """Build the toy vendor device.

    :param seed_simulator: seed for reproducible sampling.
    :param error_1q: depolarizing probability of ``sx`` and ``x``.
    :param error_2q: depolarizing probability of ``cz``.
    :param readout_error: probability that a measured bit flips.
    """
    from qdispatch_example_vendor.device import NoiseParameters, VendorDevice

    noise = NoiseParameters(error_1q=error_1q, error_2q=error_2q, readout_error=readout_error)
    return VendorDevice(name=BACKEND_NAME, noise=noise, seed_simulator=seed_simulator)


def example_serial() -> SerialExecutor:
    """Build the serial executor (it takes no options)."""
    from qdispatch_example_vendor.executor import SerialExecutor

    return SerialExecutor()
