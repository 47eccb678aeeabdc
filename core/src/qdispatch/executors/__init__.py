"""Executors built into the core distribution (registered through its entry points)."""
