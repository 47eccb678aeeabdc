"""Test support for the AQT plugin: a local AQT-compatible server (:mod:`qdispatch_aqt.testing.server`).

Nothing at run time imports this package; tests and demos do.
"""
