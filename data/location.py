"""Where the triage log lives, and whether that place is safe for SQLite's WAL mode.

The default is the platform's per-user data folder; `BRIDGELAB_DB` or `--db` override it.
WAL mode relies on shared memory between processes of one host, so a log on a network
share (NFS, SMB/CIFS, SSHFS) can be corrupted by two machines using it at once: the store
does not refuse such a path, but reports a `StoreWarning` that the CLI and GUI show.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "BRIDGELAB_DB"
DB_FILE_NAME = "triage.db"

# Linux filesystem types that live on another host (fuse.sshfs is how sshfs mounts show).
NETWORK_FS_TYPES = frozenset(
    {"nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "sshfs", "fuse.sshfs", "afs",
     "9p", "ceph", "glusterfs", "fuse.glusterfs", "davfs", "fuse.davfs2", "fuse.rclone"}
)  # fmt: skip


@dataclass(frozen=True)
class StoreWarning:
    """Something the engineer should know about the log, that does not stop it working."""

    code: str
    message: str
    action: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "action": self.action}


def default_db_path(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: Path | None = None,
) -> Path:
    """The triage log's path: `BRIDGELAB_DB` if set, else the user data folder.

    Linux and other Unix: `$XDG_DATA_HOME/bridgelab/triage.db` (XDG_DATA_HOME only when
    absolute, as the XDG spec says; otherwise `~/.local/share`). Windows:
    `%LOCALAPPDATA%\\BridgeLab\\triage.db`. macOS:
    `~/Library/Application Support/Bridge Lab/triage.db`. The folder is not created here.
    """
    environ = os.environ if env is None else env
    system = sys.platform if platform is None else platform
    user_home = Path.home() if home is None else home
    override = environ.get(ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser()
    if system.startswith("win"):
        local = environ.get("LOCALAPPDATA", "")
        base = Path(local) if local else user_home / "AppData" / "Local"
        return base / "BridgeLab" / DB_FILE_NAME
    if system == "darwin":
        return user_home / "Library" / "Application Support" / "Bridge Lab" / DB_FILE_NAME
    xdg = environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else user_home / ".local" / "share"
    return base / "bridgelab" / DB_FILE_NAME


def _unescape_mount_field(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes.
    for escaped, plain in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(escaped, plain)
    return field


def mount_fs_type(path: Path, mounts_text: str) -> tuple[str, str] | None:
    """The (mount point, filesystem type) holding `path`, from /proc/mounts text."""
    target = str(path)
    best: tuple[str, str] | None = None
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point, fs_type = _unescape_mount_field(fields[1]), fields[2]
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) >= len(best[0])):
            best = (mount_point, fs_type)
    return best


def network_share_warning(
    path: Path, *, platform: str | None = None, mounts_text: str | None = None
) -> StoreWarning | None:
    """A warning when `path` is on a network share, else None.

    Windows: UNC paths (`\\\\server\\share\\...`). Linux: the filesystem type of the
    longest mount point holding the path, read from /proc/mounts (or `mounts_text`).
    Other platforms are not checked (None).
    """
    system = sys.platform if platform is None else platform
    kind: str | None = None
    if system.startswith("win"):
        if _is_unc(str(path)):
            kind = "a Windows network share"
    elif system.startswith("linux"):
        if mounts_text is None:
            try:
                mounts_text = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
        # resolve() follows the symlinks of the part that exists and keeps the rest.
        found = mount_fs_type(path.resolve(), mounts_text)
        if found and found[1].lower() in NETWORK_FS_TYPES:
            kind = f"a network share ({found[1]} at {found[0]})"
    if kind is None:
        return None
    return StoreWarning(
        code="db-on-network-share",
        message=f"The triage log {path} is on {kind}; SQLite's write-ahead log needs a "
        "single machine, so two machines using it at once can damage it.",
        action="Keep the log on this laptop's own disk and merge copies with "
        "`bridgelab log merge` instead.",
    )


def _is_unc(text: str) -> bool:
    """`\\\\server\\share\\...` or its long form `\\\\?\\UNC\\...`; not device paths."""
    if text.upper().startswith("\\\\?\\UNC\\"):
        return True
    return text.startswith(("\\\\", "//")) and not text.startswith(("\\\\?\\", "\\\\.\\"))
