"""A throw-away third-party qdispatch plugin, built and pip-installed by the tests."""
