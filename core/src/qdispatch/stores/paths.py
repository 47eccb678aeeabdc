"""Owner-only directories and files for the stores."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from qdispatch.errors import StoreError

DIRECTORY_MODE = 0o700
"""The mode of a store directory qdispatch creates."""

FILE_MODE = 0o600
"""The mode of every store file qdispatch creates."""


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by the owner only; return it.

    The mode is set with ``chmod`` after creation, so a permissive (or odd)
    umask cannot loosen or break it. An existing directory is left as it is.

    :raises StoreError: if ``path`` exists but is not a directory, or cannot be made or written.
    """
    if path.exists() and not path.is_dir():
        raise StoreError(f"store path {path} exists and is not a directory")
    try:
        if not path.is_dir():
            path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
            os.chmod(path, DIRECTORY_MODE)
    except OSError as exc:
        raise StoreError(f"cannot create store directory {path}: {exc.strerror or exc}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise StoreError(f"store directory {path} is not writable")
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` if missing with mode 0600 (never loosening an existing file); return it.

    :raises StoreError: if ``path`` is a directory or something else that is not a regular file,
        or cannot be created.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise StoreError(f"cannot read store file {path}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(mode):
            kind = "a directory" if path.is_dir() else "not a regular file"
            raise StoreError(f"store path {path} is {kind}, not a file") from None
        return path
    except OSError as exc:
        raise StoreError(f"cannot create store file {path}: {exc.strerror or exc}") from exc
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
