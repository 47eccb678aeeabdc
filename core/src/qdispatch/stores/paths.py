"""Owner-only directories and files for the stores."""

from __future__ import annotations

import os
from pathlib import Path

from qdispatch.errors import StoreError


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by the owner only; return it.

    :raises StoreError: if ``path`` exists but is not a directory, or cannot be made.
    """
    if path.exists() and not path.is_dir():
        raise StoreError(f"store path {path} exists and is not a directory")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create store directory {path}: {exc.strerror}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise StoreError(f"store directory {path} is not writable")
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` if missing with mode 0600 (never loosening an existing file); return it."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    except IsADirectoryError as exc:
        raise StoreError(f"store path {path} is a directory, not a file") from exc
    except OSError as exc:
        raise StoreError(f"cannot create store file {path}: {exc.strerror}") from exc
    os.close(fd)
    return path
