"""A sound field log built through the store's API, for the hostile merge tests."""

from __future__ import annotations

from pathlib import Path

from bridgelab.data import (
    DeviceInfo,
    Failure,
    FailureClass,
    ImageInfo,
    SessionStart,
    Stage,
    TriageStore,
)

SESSIONS = 4


def build_field_log(path: Path) -> list[str]:
    """A sound field log: 4 sessions, each with a device, an image, events, frames, a note."""
    ids = []
    with TriageStore.open(path) as store:
        for n in range(SESSIONS):
            sid = store.begin_session(
                SessionStart(
                    mode="local",
                    port_url=f"emu://bridge{n}",
                    device=DeviceInfo(
                        eui64=0x00124B0000000000 + n, model="P2P-A1", identity={"bootloader": "2.1"}
                    ),
                    image=ImageInfo(
                        sha256=f"{n + 1:064x}",
                        size=4000,
                        file_version=0x01020000,
                        details={"form": "gbcs"},
                    ),
                    details={"plan": n},
                )
            )
            store.enter_stage(sid, Stage.TRANSFER)
            store.log_progress(sid, 2000, 4000)
            store.log_frame(sid, "tx", b"\x7e\x01")
            store.end_session(sid, "failed", Failure(Stage.TRANSFER, FailureClass.STALLED))
            store.add_note(sid, f"note {n}")
            ids.append(sid)
    return ids
