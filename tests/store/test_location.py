"""Where the log lives, and the warning for a log on a network share."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridgelab.data import TriageStore, default_db_path
from bridgelab.data.clock import iso_utc, parse_when
from bridgelab.data.errors import BadFilter
from bridgelab.data.location import mount_fs_type, network_share_warning

HOME = Path("/home/sam")

MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
proc /proc proc rw 0 0
nas:/export/lab /mnt/lab nfs4 rw,vers=4.2 0 0
//nas/field /mnt/field\\040share cifs rw 0 0
sam@host:/data /home/sam/remote fuse.sshfs rw 0 0
/dev/sdb1 /mnt/lab/local ext4 rw 0 0
"""


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("linux", {}, HOME / ".local/share/bridgelab/triage.db"),
        ("linux", {"XDG_DATA_HOME": "/data/xdg"}, Path("/data/xdg/bridgelab/triage.db")),
        ("linux", {"XDG_DATA_HOME": "relative/xdg"}, HOME / ".local/share/bridgelab/triage.db"),
        ("win32", {"LOCALAPPDATA": "C:/Users/sam/AppData/Local"},
         Path("C:/Users/sam/AppData/Local/BridgeLab/triage.db")),
        ("darwin", {}, HOME / "Library/Application Support/Bridge Lab/triage.db"),
        ("linux", {"BRIDGELAB_DB": "/srv/lab.db", "XDG_DATA_HOME": "/x"}, Path("/srv/lab.db")),
        ("win32", {"BRIDGELAB_DB": "D:/logs/t.db"}, Path("D:/logs/t.db")),
    ],
)  # fmt: skip
def test_default_location_per_platform(platform: str, env: dict[str, str], expected: Path) -> None:
    assert default_db_path(env, platform, HOME) == expected


def test_env_var_is_honoured_by_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGELAB_DB", str(tmp_path / "from-env" / "lab.db"))
    with TriageStore.open() as store:
        assert store.path == tmp_path / "from-env" / "lab.db"
    assert (tmp_path / "from-env" / "lab.db").is_file()


@pytest.mark.parametrize(
    ("path", "fs_type"),
    [
        ("/mnt/lab/triage.db", "nfs4"),
        ("/mnt/field share/t.db", "cifs"),
        ("/home/sam/remote/bridgelab/triage.db", "fuse.sshfs"),
    ],
)
def test_network_mounts_get_a_warning(path: str, fs_type: str) -> None:
    warning = network_share_warning(Path(path), platform="linux", mounts_text=MOUNTS)
    assert warning is not None and warning.code == "db-on-network-share"
    assert fs_type in warning.message and "merge" in warning.action


@pytest.mark.parametrize(
    "path", ["/home/sam/.local/share/bridgelab/triage.db", "/mnt/lab/local/t.db"]
)
def test_local_disks_get_none(path: str) -> None:
    assert network_share_warning(Path(path), platform="linux", mounts_text=MOUNTS) is None


def test_longest_mount_point_wins() -> None:
    assert mount_fs_type(Path("/mnt/lab/local/x"), MOUNTS) == ("/mnt/lab/local", "ext4")
    assert mount_fs_type(Path("/mnt/labx/y"), MOUNTS) == ("/", "ext4")


@pytest.mark.parametrize(
    ("path", "warned"),
    [
        ("\\\\nas\\field\\triage.db", True),
        ("\\\\?\\UNC\\nas\\field\\triage.db", True),
        ("\\\\?\\C:\\Users\\sam\\triage.db", False),
        ("C:\\Users\\sam\\triage.db", False),
    ],
)
def test_windows_unc_paths(path: str, warned: bool) -> None:
    assert (network_share_warning(Path(path), platform="win32") is not None) == warned


def test_filter_times() -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
    assert parse_when("7d", now=now) == "2025-06-01T12:00:00.000Z"
    assert parse_when("90m", now=now) == "2025-06-08T10:30:00.000Z"
    assert parse_when("2025-06-01") == "2025-06-01T00:00:00.000Z"
    assert parse_when("2025-06-01T10:00+01:00") == "2025-06-01T09:00:00.000Z"
    with pytest.raises(BadFilter):
        parse_when("last tuesday")
    assert iso_utc(1_748_736_000.25) == "2025-06-01T00:00:00.250Z"
