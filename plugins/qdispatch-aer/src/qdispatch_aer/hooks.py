"""Hook implementations of the qdispatch-aer plugin; Aer is imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qdispatch import hookimpl

if TYPE_CHECKING:
    from qdispatch.plugins import Register
    from qdispatch_aer.device import AerDevice


@hookimpl
def register_backends(register: Register) -> None:
    """Register the ``aer`` and ``aer_noisy`` backends."""
    register("aer", _aer)
    register("aer_noisy", _aer_noisy)


def _aer(
    method: str = "automatic",
    device: str = "CPU",
    seed_simulator: int | None = None,
    max_parallel_threads: int | None = None,
) -> AerDevice:
    from qdispatch_aer.device import AerDevice

    return AerDevice(
        name="aer",
        method=method,
        device=device,
        seed_simulator=seed_simulator,
        max_parallel_threads=max_parallel_threads,
    )


def _aer_noisy(
    method: str = "automatic",
    device: str = "CPU",
    seed_simulator: int | None = None,
    max_parallel_threads: int | None = None,
    num_qubits: int | None = None,
    depolarizing_1q: float | None = None,
    depolarizing_2q: float | None = None,
    readout_error: float | None = None,
    t1: float | None = None,
    t2: float | None = None,
    noise_model: dict[str, Any] | str | None = None,
) -> AerDevice:
    from qdispatch_aer.device import AerDevice
    from qdispatch_aer.noise import NoiseParameters, load_noise_model

    if noise_model is not None:
        given = [
            n
            for n, v in (
                ("depolarizing_1q", depolarizing_1q),
                ("depolarizing_2q", depolarizing_2q),
                ("readout_error", readout_error),
                ("t1", t1),
                ("t2", t2),
            )
            if v is not None
        ]
        if given:
            raise ValueError(f"give either noise_model or noise parameters, not both ({', '.join(given)})")
        model = load_noise_model(noise_model)
    else:
        params = NoiseParameters.from_options(
            depolarizing_1q=depolarizing_1q,
            depolarizing_2q=depolarizing_2q,
            readout_error=readout_error,
            t1=t1,
            t2=t2,
        )
        model = params.build()
    return AerDevice(
        name="aer_noisy",
        method=method,
        device=device,
        seed_simulator=seed_simulator,
        max_parallel_threads=max_parallel_threads,
        noise_model=model,
        num_qubits=num_qubits,
    )
