"""Raises on import, as a plugin with a missing dependency would."""

raise ImportError("qd_broken needs a library that is not installed")
