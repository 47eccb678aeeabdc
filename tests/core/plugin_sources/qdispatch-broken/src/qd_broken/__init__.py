"""A qdispatch plugin whose hooks module fails to import."""
