"""Hook implementations of the qdispatch-aqt plugin; HTTP clients and Aer are imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdispatch import hookimpl

if TYPE_CHECKING:
    from qdispatch.plugins import Register
    from qdispatch_aqt.device import AQTDevice
    from qdispatch_aqt.executor import AQTExecutor
    from qdispatch_aqt.offline import AQTOfflineDevice


@hookimpl
def register_backends(register: Register) -> None:
    """Register ``aqt`` and the offline simulators ``aqt_offline_simulator_no_noise`` / ``_noise``."""
    register("aqt", _aqt)
    register("aqt_offline_simulator_no_noise", _offline_no_noise)
    register("aqt_offline_simulator_noise", _offline_noise)


@hookimpl
def register_executors(register: Register) -> None:
    """Register the ``aqt`` executor."""
    register("aqt", _executor)


def _aqt(
    workspace: str | None = None,
    resource: str | None = None,
    url: str | None = None,
    token: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    oidc_issuer: str | None = None,
    num_qubits: int | None = None,
    timeout: float = 10.0,
) -> AQTDevice:
    from qdispatch_aqt.device import AQTDevice

    return AQTDevice(
        workspace=workspace, resource=resource, url=url, token=token, client_id=client_id,
        client_secret=client_secret, oidc_issuer=oidc_issuer, num_qubits=num_qubits, timeout=timeout,
    )


def _offline(
    name: str, noisy: bool, seed_simulator: int | None, num_qubits: int, method: str, max_parallel_threads: int | None
) -> AQTOfflineDevice:
    from qdispatch_aqt.offline import AQTOfflineDevice

    return AQTOfflineDevice(
        name=name, noisy=noisy, num_qubits=num_qubits, seed_simulator=seed_simulator,
        method=method, max_parallel_threads=max_parallel_threads,
    )


def _offline_no_noise(
    seed_simulator: int | None = None,
    num_qubits: int = 20,
    method: str = "statevector",
    max_parallel_threads: int | None = None,
) -> AQTOfflineDevice:
    return _offline("aqt_offline_simulator_no_noise", False, seed_simulator, num_qubits, method, max_parallel_threads)


def _offline_noise(
    seed_simulator: int | None = None,
    num_qubits: int = 20,
    method: str = "statevector",
    max_parallel_threads: int | None = None,
) -> AQTOfflineDevice:
    return _offline("aqt_offline_simulator_noise", True, seed_simulator, num_qubits, method, max_parallel_threads)


def _executor(
    max_workers: int = 4,
    poll_initial: float = 0.05,
    poll_max: float = 3.0,
    poll_factor: float = 1.3,
    jitter: float = 0.2,
    retries: int = 10,
    retry_initial: float = 0.1,
    retry_max: float = 10.0,
) -> AQTExecutor:
    from qdispatch_aqt.executor import AQTExecutor

    return AQTExecutor(
        max_workers=max_workers, poll_initial=poll_initial, poll_max=poll_max, poll_factor=poll_factor,
        jitter=jitter, retries=retries, retry_initial=retry_initial, retry_max=retry_max,
    )
