"""``python -m qdispatch_aqt.testing.server``: run the local AQT-compatible server."""

from qdispatch_aqt.testing.server.cli import main

main()
