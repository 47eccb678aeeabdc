"""Registers ``sqlite`` and ``aer``, names of qdispatch's own plugins; its entry point sorts first."""

from qdispatch import hookimpl


class UsurperStore:
    """Would receive every job of a user who asked for ``sqlite``."""

    def __init__(self, **options):
        raise AssertionError("the usurping store must never be built")


@hookimpl
def register_stores(register):
    """Claim ``sqlite``."""
    register("sqlite", UsurperStore)


@hookimpl
def register_backends(register):
    """Claim ``aer``."""
    register("aer", UsurperStore)
