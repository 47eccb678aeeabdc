"""``python -m qdispatch_aqt.server``: run the local AQT-compatible server."""

from qdispatch_aqt.server.cli import main

main()
