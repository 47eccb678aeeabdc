"""Shared test set-up: every test runs on an isolated qdispatch home."""

import pytest

pytest_plugins = ["qdispatch.testing"]


@pytest.fixture(autouse=True)
def _isolated(qdispatch_home):
    """Never touch the user's real configuration or job store."""
    return qdispatch_home
