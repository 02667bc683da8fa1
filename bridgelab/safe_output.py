"""Safe `-o`/`--out` files: no output replaces an input, half a file is never left behind.

Every command that writes a file the user named goes through `safe_output` (a stream) or
`write_bytes`, which promise:

* **never an input**: the path is refused (`output-is-input`) when it is any input of the
  command, the open triage log or its `-wal`/`-shm`/`-journal` companions, or a file in
  its `-owners` folder; compared by resolved path (symlinks, `..`), by device and inode
  (hard links, bind mounts), and by case-folded name in the same folder (a
  case-insensitive disk, or a companion file that does not exist yet);
* **never half a file**: the bytes go to a temporary file in the same folder, are
  fsynced, then renamed over the target in one step; on any failure (disk full, I/O
  error, an exception in the caller) the temporary file is removed and the target is
  left as it was;
* **never a silent overwrite**: an existing file (or symlink, dangling or not) is refused
  (`output-exists`) unless `force=True`; with `force` a symlink is replaced by the new
  file, never written through.

`check_output_folder` does the same for commands that write several files into a folder
(campaign reports, key pairs). Errors are `OutputError`s with stable codes.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from bridgelab.errors import BridgeLabError

# Files SQLite keeps beside a database; writing any of them corrupts or rolls back the log.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
OWNERS_SUFFIX = "-owners"


class OutputError(BridgeLabError):
    """Base of the refusals and failures of an output file."""

    code = "output-error"
    default_action = "Choose another output path."


class OutputIsInput(OutputError):
    code = "output-is-input"
    default_action = (
        "Write the output to a new file elsewhere (for example in your Documents folder); "
        "nothing was written and the input was left as it is."
    )


class OutputExists(OutputError):
    code = "output-exists"
    default_action = "Choose a new file name, or add --force to replace the file."


class OutputIsFolder(OutputError):
    code = "output-is-folder"
    default_action = "Give a file name inside the folder, e.g. FOLDER/report.zip."


class OutputNotAFolder(OutputError):
    code = "output-not-a-folder"
    default_action = "Give the path of a folder (it is created when missing), not of a file."


class OutputNotWritable(OutputError):
    code = "output-not-writable"
    default_action = "Choose a folder that exists and that you can write to."


class OutputWriteFailed(OutputError):
    code = "output-write-failed"
    default_action = "Free some space (or choose another disk) and try again; nothing was replaced."


@dataclass(frozen=True)
class Guarded:
    """One input to protect: `path`, how to name it in messages, and what else it covers.

    `sqlite=True` also protects the `-wal`, `-shm`, `-journal` files and everything in the
    `-owners` folder beside it; `tree=True` protects everything inside the folder `path`.
    """

    path: Path
    label: str
    sqlite: bool = False
    tree: bool = False


def triage_log(path: str | os.PathLike[str] | None) -> list[Guarded]:
    """The guards for an open triage log (none when no path is known)."""
    return [] if path is None else [Guarded(Path(path), "the triage log", sqlite=True)]


def inputs(paths: Iterable[str | os.PathLike[str] | None], label: str) -> list[Guarded]:
    """Guards for plain input files (Nones are skipped)."""
    return [Guarded(Path(p), label) for p in paths if p is not None]


def _stat(path: Path, *, follow: bool = True) -> os.stat_result | None:
    try:
        return path.stat() if follow else path.lstat()
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        return None


def _resolved(path: Path) -> Path:
    return Path(os.path.normcase(os.path.realpath(path)))


def _same_file(a: Path, b: Path, casefold: bool = True) -> bool:
    """The same file by resolved path, by (device, inode), or by case-folded name."""
    if _resolved(a) == _resolved(b):
        return True
    sa, sb = _stat(a), _stat(b)
    if sa is not None and sb is not None and (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    if not casefold:
        return False
    ra, rb = _resolved(a), _resolved(b)
    if ra.name.casefold() != rb.name.casefold():
        return False
    pa, pb = _stat(ra.parent), _stat(rb.parent)
    return pa is not None and pb is not None and (pa.st_dev, pa.st_ino) == (pb.st_dev, pb.st_ino)


def _inside(path: Path, folder: Path) -> bool:
    """`path` is `folder` or anything below it (resolved, then by inode of each parent)."""
    target = _resolved(path)
    root = _resolved(folder)
    if target == root or root in target.parents:
        return True
    root_stat = _stat(root)
    if root_stat is None:
        return False
    for parent in (target, *target.parents):
        found = _stat(parent)
        if found is not None and (found.st_dev, found.st_ino) == (
            root_stat.st_dev,
            root_stat.st_ino,
        ):
            return True
    return False


def _collides(target: Path, guard: Guarded, casefold: bool = True) -> str | None:
    """What of `guard` the target would overwrite, or None."""
    if guard.tree:
        return guard.label if _inside(target, guard.path) else None
    if _same_file(target, guard.path, casefold):
        return guard.label
    if guard.sqlite:
        for suffix in SQLITE_COMPANIONS:
            companion = guard.path.with_name(guard.path.name + suffix)
            if _same_file(target, companion, casefold):
                return f"the {suffix[1:]} file of {guard.label}"
        owners = guard.path.with_name(guard.path.name + OWNERS_SUFFIX)
        if _inside(target, owners):
            return f"the owner locks of {guard.label}"
    return None


def refuse_inputs(
    target: Path, guards: Iterable[Guarded], what: str, *, casefold: bool = True
) -> None:
    """Raise `OutputIsInput` when writing `target` would replace any guarded file.

    `casefold=False` drops the same-name-but-case rule (for reading a file that exists,
    where the inode already tells a case-insensitive disk's aliases apart).
    """
    for guard in guards:
        hit = _collides(target, guard, casefold)
        if hit is not None:
            raise OutputIsInput(
                f"The {what} {target} is {hit} ({guard.path}); writing it would replace it.",
                details={"output": str(target), "input": str(guard.path)},
            )


def check_output(
    path: str | os.PathLike[str],
    guards: Iterable[Guarded] = (),
    *,
    force: bool = False,
    what: str = "output file",
) -> Path:
    """Check `path` may be written as a new file; returns it as given (absolute).

    Raises `OutputIsInput`, `OutputIsFolder`, `OutputExists` (unless `force`) or
    `OutputNotWritable` (the folder is missing or not a folder). Nothing is written.
    """
    text = os.fspath(path)
    if not text or "\x00" in text:
        raise OutputNotWritable(f"{text!r} is not a usable path for the {what}.")
    target = Path(os.path.abspath(text))
    refuse_inputs(target, guards, what)
    found = _stat(target)
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise OutputIsFolder(f"The {what} {target} is a folder.")
    if text.endswith(("/", os.sep)):
        raise OutputIsFolder(f"The {what} {text} names a folder, not a file.")
    if not force and _stat(target, follow=False) is not None:
        raise OutputExists(f"The {what} {target} already exists.", details={"output": str(target)})
    if found is not None and not stat.S_ISREG(found.st_mode):
        raise OutputNotWritable(f"The {what} {target} is not a regular file (a device or pipe).")
    parent = _stat(target.parent)
    if parent is None or not stat.S_ISDIR(parent.st_mode):
        raise OutputNotWritable(f"The folder {target.parent} for the {what} does not exist.")
    return target


def check_output_folder(
    path: str | os.PathLike[str], guards: Iterable[Guarded] = (), *, what: str = "output folder"
) -> Path:
    """Check `path` is (or can be made) a folder that is no input; create it; return it.

    Raises `OutputIsInput`, `OutputNotAFolder` or `OutputNotWritable`.
    """
    text = os.fspath(path)
    if not text or "\x00" in text:
        raise OutputNotWritable(f"{text!r} is not a usable path for the {what}.")
    folder = Path(os.path.abspath(text))
    refuse_inputs(folder, guards, what)
    found = _stat(folder)
    if found is not None and not stat.S_ISDIR(found.st_mode):
        raise OutputNotAFolder(f"The {what} {folder} is a file, not a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _translated(error, folder, what) from error
    return folder


def _translated(error: OSError, target: Path, what: str) -> OutputError:
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return OutputWriteFailed(
            f"Could not write the {what} {target}: the disk is full ({reason}).",
            details={"errno": error.errno},
        )
    if error.errno == errno.EISDIR:
        return OutputIsFolder(f"The {what} {target} is a folder.")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR):
        return OutputNotWritable(
            f"Cannot write the {what} {target}: {reason}.", details={"errno": error.errno}
        )
    return OutputWriteFailed(
        f"Could not write the {what} {target}: {reason}.", details={"errno": error.errno}
    )


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk (POSIX; best effort).
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _publish(temporary: Path, target: Path, force: bool, what: str) -> None:
    """Move the finished temporary file to `target` in one step."""
    if force:
        os.replace(temporary, target)
        return
    try:
        # link() fails if the name appeared since the check: no overwrite, even in a race.
        os.link(temporary, target)
    except FileExistsError:
        raise OutputExists(f"The {what} {target} already exists.") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # A disk without hard links (FAT, some network shares): check, then rename.
        if _stat(target, follow=False) is not None:
            raise OutputExists(f"The {what} {target} already exists.") from None
        os.replace(temporary, target)
        return
    temporary.unlink()


def safe_output(
    path: str | os.PathLike[str],
    guards: Iterable[Guarded] = (),
    *,
    force: bool = False,
    what: str = "output file",
) -> AbstractContextManager[TextIO]:
    """A `with` block that yields a UTF-8 text stream (no newline translation: CSV writes
    its own); the file appears at `path` only when the block succeeds.

    Raises the `check_output` errors before the block runs, and `OutputWriteFailed` /
    `OutputNotWritable` (disk full, I/O error, permission) from writing; any exception
    leaves the target as it was and removes the temporary file.
    """
    guard_list = list(guards)
    target = check_output(path, guard_list, force=force, what=what)
    return _text(target, guard_list, force, what)


def safe_binary_output(
    path: str | os.PathLike[str],
    guards: Iterable[Guarded] = (),
    *,
    force: bool = False,
    what: str = "output file",
    private: bool = False,
) -> AbstractContextManager[BinaryIO]:
    """`safe_output` for bytes; `private` creates the file 0600 (else 0644 via the umask)."""
    guard_list = list(guards)
    target = check_output(path, guard_list, force=force, what=what)
    return _binary(target, guard_list, force, what, private)


@contextmanager
def _text(target: Path, guards: list[Guarded], force: bool, what: str) -> Iterator[TextIO]:
    with _binary(target, guards, force, what, False) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=False)
        try:
            yield text
            text.flush()
        finally:
            text.detach()


@contextmanager
def _binary(
    target: Path, guards: list[Guarded], force: bool, what: str, private: bool
) -> Iterator[BinaryIO]:
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        descriptor = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644
        )
    except OSError as error:
        raise _translated(error, target, what) from error
    published = False
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # The inputs are checked again just before the rename: a symlink swapped in
        # while we wrote must not turn the rename into an overwrite of an input.
        refuse_inputs(target, guards, what)
        _publish(temporary, target, force, what)
        published = True
        _fsync_folder(target.parent)
    except OSError as error:
        raise _translated(error, target, what) from error
    finally:
        if not published:
            temporary.unlink(missing_ok=True)


def write_bytes(
    path: str | os.PathLike[str],
    data: bytes,
    guards: Iterable[Guarded] = (),
    *,
    force: bool = False,
    what: str = "output file",
    private: bool = False,
) -> Path:
    """Write `data` to `path` with every promise of `safe_output`; returns the path."""
    with safe_binary_output(path, guards, force=force, what=what, private=private) as out:
        out.write(data)
    return Path(os.path.abspath(os.fspath(path)))
