"""A qdispatch plugin written for a later contract: it implements a hook unknown here."""
