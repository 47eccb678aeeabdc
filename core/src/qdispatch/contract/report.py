"""Reports of a contract check: one ``Check`` per step, gathered in a ``ContractReport``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from qdispatch.plugins import Kind

if TYPE_CHECKING:
    from qdispatch.plugins import PluginManager

Outcome = Literal["passed", "failed", "skipped"]
"""What became of one check."""


@attrs.frozen
class Check:
    """The outcome of one check: ``passed``, ``failed`` or ``skipped``, and why."""

    name: str
    outcome: Outcome
    detail: str = ""


@attrs.frozen
class ContractReport:
    """What :func:`check_executor`, :func:`check_store` or :func:`check_backend` found."""

    kind: Kind
    name: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Whether no check failed (skipped checks are optional parts of the contract)."""
        return not self.failed

    @property
    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if c.outcome == "failed"]

    def outcome(self, check: str) -> Outcome:
        """Return the outcome of the check named ``check``."""
        for c in self.checks:
            if c.name == check:
                return c.outcome
        raise KeyError(check)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-safe data."""
        return {
            "kind": self.kind,
            "name": self.name,
            "ok": self.ok,
            "checks": [attrs.asdict(c) for c in self.checks],
        }

    def assert_ok(self) -> None:
        """Raise ``AssertionError`` with the whole report if a check failed (for pytest)."""
        if not self.ok:
            raise AssertionError(str(self))

    def __str__(self) -> str:
        counts = {o: sum(c.outcome == o for c in self.checks) for o in ("passed", "failed", "skipped")}
        lines = [f"{self.kind} {self.name!r}: " + ", ".join(f"{n} {o}" for o, n in counts.items())]
        width = max((len(c.name) for c in self.checks), default=0)
        lines += [f"  {c.outcome:<7}  {c.name:<{width}}  {c.detail}" for c in self.checks]
        return "\n".join(lines)


class Skip(Exception):
    """Raised by a check that does not apply; its message says why."""


class Failure(Exception):
    """Raised by a check that found the contract broken; its message says how."""


class _Checks:
    """Runs checks one after another and collects their outcomes."""

    def __init__(self) -> None:
        self.items: list[Check] = []

    def run(self, name: str, check: Callable[[], str]) -> bool:
        """Run ``check``; record passed with its returned detail, skipped, or failed."""
        try:
            detail = check()
        except Skip as skip:
            self.items.append(Check(name, "skipped", str(skip)))
            return False
        except Failure as failure:
            self.items.append(Check(name, "failed", str(failure)))
            return False
        except Exception as exc:
            self.items.append(Check(name, "failed", f"{type(exc).__name__}: {exc}"))
            return False
        self.items.append(Check(name, "passed", detail))
        return True

    def run_in_order(self, kind: Kind, steps: Sequence[tuple[str, Callable[[], str]]]) -> None:
        """Run ``steps`` in order; if the first (building the plugin's object) fails, skip the others."""
        (first, create), rest = steps[0], steps[1:]
        if self.run(first, create):
            for name, check in rest:
                self.run(name, check)
            return
        for name, _ in rest:
            self.items.append(Check(name, "skipped", f"the {kind} could not be created"))


def create_checked(
    pm: PluginManager, kind: Kind, name: str, options: Mapping[str, Any], protocol: type
) -> Any:
    """Build the ``kind`` named ``name``; raise :class:`Failure` naming what it lacks of ``protocol``."""
    made = pm.create(kind, name, options)
    if not isinstance(made, protocol):
        members = set(getattr(protocol, "__annotations__", {}))
        members |= {m for m, value in vars(protocol).items() if callable(value) and not m.startswith("_")}
        missing = sorted(m for m in members if not hasattr(made, m))
        raise Failure(f"{type(made).__name__} lacks {', '.join(missing)}")
    return made
