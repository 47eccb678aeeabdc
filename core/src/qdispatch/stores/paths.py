"""Owner-only directories and files for the stores, and safe reading of what they hold."""

from __future__ import annotations

import errno
import os
import stat
import warnings
from pathlib import Path
from typing import Any

from qdispatch.errors import InsecureStoreError, StoreConfigurationError, StoreError

DIRECTORY_MODE = 0o700
"""The mode of a store directory qdispatch creates."""

FILE_MODE = 0o600
"""The mode of every store file qdispatch creates."""

MAX_RECORD_BYTES = 256 * 1024 * 1024
"""The largest record a store writes or reads (256 MiB); larger ones are refused, never read whole."""


class UnreadableFileError(Exception):
    """A path is not a regular file, or is larger than the caller allows (the message says which)."""


def store_path(value: Any, store: str, option: str = "path") -> Path:
    """Check a store's configured path and return it with ``~`` expanded.

    :raises StoreConfigurationError: if ``value`` is not a path, is empty or holds a NUL byte.
    """
    if isinstance(value, bool) or not isinstance(value, str | os.PathLike):
        raise StoreConfigurationError(
            f"{store} store option {option!r} must be a path (a string), not {value!r}"
        )
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip():
        raise StoreConfigurationError(
            f"{store} store option {option!r} is empty; that would make the current directory the "
            f"store: give a path, or unset the option to use the default location"
        )
    if "\0" in text:
        raise StoreConfigurationError(f"{store} store option {option!r} contains a NUL byte: {text!r}")
    return Path(text).expanduser()


def write_hint(exc: OSError) -> str:
    """Say what to do about a failed write, where the cause is one a person can fix."""
    hints = {
        errno.ENOSPC: " (the disk is full: free space and save again)",
        errno.EDQUOT: " (your disk quota is used up: free space and save again)",
        errno.EFBIG: " (the record is larger than the file-size limit: raise it with ulimit -f)",
        errno.EROFS: " (the file system is read-only)",
        errno.EACCES: " (permission denied: make the store directory writable)",
    }
    return hints.get(exc.errno or 0, "")


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular_file(path: Path, limit: int) -> bytes:
    """Return the bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    The file is checked with ``stat`` before it is opened, opened without
    blocking (a FIFO never hangs the caller), checked again on the open
    descriptor, and never read past ``limit``.

    :raises UnreadableFileError: if ``path`` is a FIFO, a device, a directory, or too large.
    :raises OSError: if it cannot be opened or read.
    """
    if not stat.S_ISREG(mode := os.stat(path).st_mode):
        raise UnreadableFileError(f"{path} is {_describe(mode)}, not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFileError(f"{path} is {_describe(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise UnreadableFileError(f"{path} is {info.st_size} bytes, more than the limit of {limit}")
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise UnreadableFileError(f"{path} grew past the limit of {limit} bytes while read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _refuse_or_fix_shared(path: Path) -> None:
    """Refuse a directory others may write to, unless it is the user's: then remove their write bits."""
    info = os.stat(path)
    if not info.st_mode & 0o022:
        return
    who = " and ".join(w for w, bit in (("its group", 0o020), ("other users", 0o002)) if info.st_mode & bit)
    if info.st_uid != os.geteuid():
        raise InsecureStoreError(
            f"refusing store directory {path}: it can be written by {who} and belongs to another user "
            f"(uid {info.st_uid}), so they could replace job records; choose a directory only you can write"
        )
    old = stat.S_IMODE(info.st_mode)
    new = old & ~0o022
    try:
        os.chmod(path, new)
    except OSError as exc:
        raise InsecureStoreError(
            f"store directory {path} can be written by {who} and its mode could not be fixed: "
            f"{exc.strerror or exc}; run chmod go-w on it"
        ) from exc
    warnings.warn(
        f"store directory {path} could be written by {who}; qdispatch removed their write "
        f"permission (mode {old:o} -> {new:o}) so no one else can replace job records",
        RuntimeWarning,
        stacklevel=4,
    )


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by the owner only; return it.

    The mode is set with ``chmod`` after creation, so a permissive (or odd)
    umask cannot loosen or break it. An existing directory is kept, but one
    its group or other users can write is refused if it belongs to someone
    else, or has those write bits removed (with a warning) if it is the user's.
    A read-only directory is accepted: it can be read, and writes to it fail.

    :raises StoreError: if ``path`` exists but is not a directory, or cannot be made.
    :raises InsecureStoreError: if others can write it and it is not the user's.
    """
    if path.exists() and not path.is_dir():
        raise StoreError(f"store path {path} exists and is not a directory")
    try:
        if not path.is_dir():
            path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
            os.chmod(path, DIRECTORY_MODE)
    except OSError as exc:
        raise StoreError(f"cannot create store directory {path}: {exc.strerror or exc}") from exc
    _refuse_or_fix_shared(path)
    return path


def writable(path: Path) -> bool:
    """Whether this process may create and replace files in the directory ``path``."""
    return os.access(path, os.W_OK | os.X_OK)


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
