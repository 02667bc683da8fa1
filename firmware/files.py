"""Reading and writing the toolkit's files with clear refusals and bounded memory.

`read_file` holds a file's bytes exactly once: it checks the size before reading (a file
over the limit is refused without reading a byte), then reads into one buffer of that
size. `write_file` replaces its target atomically; `write_new_private_file` creates a
file owner-only from the start (never loosened first and tightened after).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from bridgelab.firmware.errors import ImageFileError
from bridgelab.safe_output import (
    Guarded,
    OutputIsFolder,
    OutputNotWritable,
    OutputWriteFailed,
    write_bytes,
)

MIB = 1024 * 1024
DEFAULT_MAX_IMAGE_SIZE = 16 * MIB


def read_file(path: str | os.PathLike[str], *, max_size: int, what: str = "file") -> bytes:
    """Return the whole file, refusing anything that is not a regular file of `max_size` or less.

    `what` names the file in messages ("image", "key file", ...). Raises ImageFileError with
    code file-not-found, not-a-file, file-unreadable or file-too-large.
    """
    target = Path(path)
    try:
        info = target.stat()
    except FileNotFoundError:
        raise ImageFileError(
            f"The {what} {target} does not exist.", code="file-not-found"
        ) from None
    except OSError as exc:
        raise ImageFileError(
            f"The {what} {target} cannot be read: {exc.strerror or exc}.", code="file-unreadable"
        ) from exc
    # Checked before opening: opening a FIFO would block, a folder cannot be read.
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ImageFileError(f"The {what} {target} is {kind}.", code="not-a-file")
    _refuse_oversize(target, info.st_size, max_size, what)
    try:
        # Unbuffered, one read of the known size (+1 to notice a file growing under us):
        # the only allocation is the returned bytes object.
        with open(target, "rb", buffering=0) as handle:
            data = handle.read(info.st_size + 1)
    except OSError as exc:
        raise ImageFileError(
            f"The {what} {target} cannot be read: {exc.strerror or exc}.", code="file-unreadable"
        ) from exc
    _refuse_oversize(target, len(data), max_size, what)
    return data


def _refuse_oversize(target: Path, size: int, max_size: int, what: str) -> None:
    if size > max_size:
        raise ImageFileError(
            f"The {what} {target} is {size:,} bytes, over the {max_size:,}-byte limit.",
            code="file-too-large",
        )


def write_file(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    what: str = "file",
    force: bool = True,
    guards: Iterable[Guarded] = (),
) -> Path:
    """Write `data` to `path` atomically (a reader sees the old file or the new, never half).

    A safe output (`bridgelab.safe_output`): refused when `path` is one of `guards`
    (output-is-input), or exists and `force` is False (output-exists). Raises
    ImageFileError(cannot-write) when the path is a folder, or the folder is missing, not
    writable or full.
    """
    try:
        return write_bytes(path, data, guards, force=force, what=what)
    except (OutputIsFolder, OutputNotWritable, OutputWriteFailed) as exc:
        raise ImageFileError(exc.message, code="cannot-write", details=exc.details) from exc


def write_new_private_file(path: str | os.PathLike[str], data: bytes, *, what: str) -> Path:
    """Create `path` readable by its owner only (0600 from creation) and write `data`.

    Refuses to replace an existing file (file-exists): a private key is never overwritten.
    Raises ImageFileError(cannot-write) for any other failure.
    """
    target = Path(path)
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ImageFileError(f"The {what} {target} already exists.", code="file-exists") from None
    except OSError as exc:
        raise ImageFileError(
            f"Cannot create the {what} {target}: {exc.strerror or exc}.", code="cannot-write"
        ) from exc
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise ImageFileError(
            f"Cannot write the {what} {target}: {exc.strerror or exc}.", code="cannot-write"
        ) from exc
    return target
