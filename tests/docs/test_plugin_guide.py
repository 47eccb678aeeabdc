"""The plugin author guide covers the whole contract: every hook has a heading with its signature."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from qdispatch import hookspecs
from qdispatch.protocols import Device, Executor, Store

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def hook_signatures() -> dict[str, str]:
    """Return ``{hook name: "name(arg, ...)"}`` for every hook in :mod:`qdispatch.hookspecs`."""
    return {
        name: f"{name}({', '.join(inspect.signature(function).parameters)})"
        for name, function in vars(hookspecs).items()
        if callable(function) and hasattr(function, "qdispatch_spec")
    }


def headings() -> list[str]:
    """Return the guide's headings, without ``#`` and backticks."""
    text = GUIDE.read_text(encoding="utf-8")
    return [re.sub(r"[`*]", "", m).strip() for m in re.findall(r"^#{1,6}\s+(.*)$", text, re.M)]


def test_every_hook_has_a_heading_with_its_signature() -> None:
    signatures = hook_signatures()
    assert len(signatures) >= 10  # the registration and lifecycle hooks
    missing = sorted(set(signatures.values()) - set(headings()))
    assert not missing, f"docs/plugins.md lacks a heading for: {', '.join(missing)}"


def test_no_heading_documents_a_hook_that_does_not_exist() -> None:
    hook_like = [h for h in headings() if re.fullmatch(r"(register_|job_)\w*\(.*\)", h)]
    stale = sorted(set(hook_like) - set(hook_signatures().values()))
    assert not stale, f"docs/plugins.md documents hooks that are not in hookspecs: {', '.join(stale)}"


def test_every_protocol_member_is_named_in_the_guide() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for protocol in (Device, Executor, Store):
        members = [m for m in vars(protocol) if not m.startswith("_")] + list(protocol.__annotations__)
        for member in members:
            assert f"`{member}" in text, f"docs/plugins.md does not mention {protocol.__name__}.{member}"
    for optional in (
        "cancel(future)",
        "resume(task, state)",
        "report_progress",
        "report_state",
        "report_started",
    ):
        assert optional in text, f"docs/plugins.md does not mention {optional}"
