"""A third-party plugin that tries to take over built-in names."""
