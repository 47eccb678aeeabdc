"""Faults the local AQT server can inject: 5xx answers, slow answers, dropped connections, failed jobs.

Hostile ones too, for the client's hardening tests: an error body that echoes
the request's ``Authorization`` header, and results of the wrong shape.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import attrs

ENDPOINTS = ("workspaces", "resource", "submit", "result", "cancel")
"""The endpoint kinds a network fault may be limited to."""


@attrs.define
class Faults:
    """Probabilities of each fault; change them at any time, even while the server runs.

    Network faults (``error_rate``, ``drop_rate``, ``slow_rate``) hit only
    requests to the endpoints named in ``endpoints``. ``fail_rate`` makes a
    job end in ``error`` instead of running.

    :param error_rate: answer with HTTP ``error_status`` instead of serving the request.
    :param error_status: the 5xx status of injected errors.
    :param drop_rate: close the connection without answering.
    :param slow_rate: wait ``slow_seconds`` before answering.
    :param slow_seconds: how long a slow answer waits.
    :param fail_rate: the probability that a job fails with ``fail_message``.
    :param fail_message: the message of a failed job.
    :param endpoints: the endpoint kinds network faults apply to.
    :param forced: faults (``"drop"``, ``"error"``, ``"slow"``, ``"echo"``) for the
        next requests to those endpoints, in order, before any dice are rolled;
        ``"echo"`` answers HTTP 400 with a body quoting the request's ``Authorization`` header.
    :param reshape: rewrites a finished job's samples (``{circuit index: shots}``)
        before the server reports them: a server answering wrong results.
    :param seed: seed of the fault dice, for reproducible runs.
    """

    error_rate: float = 0.0
    error_status: int = 500
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    fail_rate: float = 0.0
    fail_message: str = "injected failure: the ion trap lost its ions"
    endpoints: frozenset[str] = frozenset({"result"})
    forced: list[str] = attrs.Factory(list)
    seed: int | None = None
    reshape: Callable[[dict[int, list[list[int]]]], dict[int, list[list[int]]]] | None = None
    _rng: random.Random = attrs.field(init=False, repr=False)
    _lock: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        unknown = set(self.endpoints) - set(ENDPOINTS)
        if unknown:
            raise ValueError(f"unknown endpoint kind(s) {sorted(unknown)}; known: {', '.join(ENDPOINTS)}")
        odd = set(self.forced) - {"drop", "error", "slow", "echo"}
        if odd:
            raise ValueError(f"unknown forced fault(s) {sorted(odd)}; use drop, error, slow or echo")
        self._rng = random.Random(self.seed)

    def _roll(self, probability: float) -> bool:
        with self._lock:
            return probability > 0 and self._rng.random() < probability

    def network(self, endpoint: str) -> str | None:
        """Return ``"drop"``, ``"error"``, ``"slow"``, ``"echo"`` or None for one request to ``endpoint``."""
        if endpoint not in self.endpoints:
            return None
        with self._lock:
            if self.forced:
                return self.forced.pop(0)
        if self._roll(self.drop_rate):
            return "drop"
        if self._roll(self.error_rate):
            return "error"
        if self._roll(self.slow_rate):
            return "slow"
        return None

    def job_fails(self) -> bool:
        """Return whether the next job should fail."""
        return self._roll(self.fail_rate)
