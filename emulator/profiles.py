"""Device profiles for the emulated bridge: who it is and what state it starts in.

Shipped profiles, by name: `demo` (a current bridge, joined, OTA capable), `legacy` (no
OTA client: installed before the CH/DCC changes), `orphaned` (after a trust-centre
swap-out), `not-in-log` (not yet in the Comms Hub device log), `protocol-v1` (firmware that
speaks only version 1 of the service protocol: windowed writes, no selective repeat, no
OTA_TUNNEL_BATCH),
`dead-app` (its application is lost: only the radio's Gecko Bootloader answers, until a
`.gbl` is uploaded and run). A profile can also be a TOML file with any of the fields below
(unknown keys are refused); it starts from `demo`, or from the profile named by its `base`
key.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridgelab.drivers.join_state import JoinState
from bridgelab.errors import UsageError

DEMO_MANUFACTURER_CODE = 0xB1D6
DEMO_IMAGE_TYPE = 0x0105
DEMO_HARDWARE_VERSION = 0x0102
DEMO_FIRMWARE_VERSION = 0x01020000


class ProfileError(UsageError):
    code = "bad-profile"


@dataclass
class Profile:
    name: str = "demo"
    model: str = "Bridge Lab demo P2P bridge (meter side)"
    manufacturer_code: int = DEMO_MANUFACTURER_CODE
    image_type: int = DEMO_IMAGE_TYPE
    hardware_version: int = DEMO_HARDWARE_VERSION
    firmware_version: int = DEMO_FIRMWARE_VERSION
    inactive_firmware_version: int = 0x01010000
    bootloader_version: int = 0x00030001
    eui64: int = 0x00124B0001B1D601
    serial_number: str = "BLD-0001"
    ota_capable: bool = True
    # The radio's Gecko Bootloader: false = the application is lost, only it answers.
    app_valid: bool = True
    bootloader_requires_signature: bool = False
    # HAN
    join_state: JoinState = JoinState.JOINED
    ch_eui64: int = 0x00124B00CC0000A1
    channel: int = 15
    pan_id: int = 0x1A2B
    lqi: int = 208
    rssi: int = -61
    device_type: int = 5  # PPMID-type in the CH device log
    last_failure_code: int = 0xFF
    # P2P link to the premises-side half
    partner_eui64: int = 0x00124B0001B1D602
    p2p_lqi: int = 190
    p2p_rssi: int = -68
    # Install code as on the label (16 bytes + CRC); the link key is derived, never sent.
    install_code: str = "83FED3407A939723A5C639B26916D505C3B5"
    # Link and flash timing (seconds, or milliseconds where named)
    baud_rates: tuple[int, ...] = (115200, 230400, 460800, 921600)
    max_payload: int = 4096
    window: int = 16
    # The newest service protocol the firmware speaks (2: selective repeat), and how many
    # bytes past its contiguous offset it buffers out of order in a version-2 transfer.
    protocol_version: int = 2
    reassembly_bytes: int = 64 * 1024
    # OTA_TUNNEL_BATCH (the server's next block answers carried ahead in one exchange);
    # firmware without it answers UNKNOWN_COMMAND and the host tunnels frame by frame.
    ota_tunnel_batch: bool = True
    boot_s: float = 0.3
    rejoin_s: float = 0.3
    erase_ms_per_kib: float = 0.5
    write_ms_per_kib: float = 1.0
    verify_ms: float = 20.0
    # Simulated radio for OTA (virtual clock)
    ota_block_rtt_s: tuple[float, float] = (0.25, 0.85)
    ota_min_block_period_ms: int = 0
    ota_verify_s: float = 5.0
    extra: dict[str, Any] = field(default_factory=dict)

    def copy(self, **changes: Any) -> Profile:
        return dataclasses.replace(self, **changes)


SHIPPED: dict[str, Profile] = {
    "demo": Profile(),
    "legacy": Profile(
        name="legacy",
        model="Bridge Lab demo P2P bridge, first generation (no OTA client)",
        firmware_version=0x01000400,
        inactive_firmware_version=0xFFFFFFFF,
        eui64=0x00124B0001B1D611,
        serial_number="BLD-L001",
        ota_capable=False,
        partner_eui64=0x00124B0001B1D612,
    ),
    "orphaned": Profile(
        name="orphaned",
        eui64=0x00124B0001B1D621,
        serial_number="BLD-O001",
        join_state=JoinState.ORPHANED,
        ch_eui64=0x00124B00CC0000A1,
        lqi=0,
        rssi=-128,
        partner_eui64=0x00124B0001B1D622,
    ),
    "not-in-log": Profile(
        name="not-in-log",
        eui64=0x00124B0001B1D631,
        serial_number="BLD-N001",
        join_state=JoinState.NOT_IN_DEVICE_LOG,
        ch_eui64=0,
        channel=0,
        pan_id=0xFFFF,
        lqi=0,
        rssi=-128,
        device_type=0xFF,
        partner_eui64=0x00124B0001B1D632,
    ),
    # Firmware from before protocol version 2: no UPDATE_SEGMENT, windowed writes only.
    "protocol-v1": Profile(
        name="protocol-v1",
        model="Bridge Lab demo P2P bridge, service protocol version 1 only",
        eui64=0x00124B0001B1D651,
        serial_number="BLD-V001",
        partner_eui64=0x00124B0001B1D652,
        protocol_version=1,
        ota_tunnel_batch=False,
    ),
    "dead-app": Profile(
        name="dead-app",
        eui64=0x00124B0001B1D641,
        serial_number="BLD-D001",
        app_valid=False,
        partner_eui64=0x00124B0001B1D642,
    ),
}


def _coerce(current: Any, key: str, value: Any) -> Any:
    if isinstance(current, JoinState):
        if isinstance(value, str):
            try:
                return JoinState[value.upper().replace("-", "_")]
            except KeyError:
                names = ", ".join(s.label for s in JoinState)
                raise ProfileError(f"{key}: {value!r} is not a join state ({names}).") from None
        return JoinState(int(value))
    if isinstance(current, tuple):
        return tuple(value)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ProfileError(f"{key}: expected true or false, got {value!r}.")
        return value
    if isinstance(current, int) and isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            raise ProfileError(f"{key}: {value!r} is not a number.") from None
    return value


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name, or a TOML profile file; raises ProfileError."""
    if name_or_path in SHIPPED:
        return SHIPPED[name_or_path].copy()
    path = Path(name_or_path)
    if not path.is_file():
        raise ProfileError(
            f"No profile named {name_or_path!r} and no such file.",
            action="Use one of " + ", ".join(SHIPPED) + ", or a path to a TOML profile.",
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ProfileError(f"Cannot read profile {path}: {error}.") from None
    base_name = str(data.pop("base", "demo"))
    if base_name not in SHIPPED:
        raise ProfileError(f"{path}: base {base_name!r} is not a shipped profile.")
    profile = SHIPPED[base_name].copy(name=path.stem)
    known = {f.name for f in dataclasses.fields(Profile)} - {"extra"}
    for key, value in data.items():
        attr = key.replace("-", "_")
        if attr not in known:
            raise ProfileError(
                f"{path}: unknown profile key {key!r}.",
                action="Known keys: " + ", ".join(sorted(known)) + ".",
            )
        setattr(profile, attr, _coerce(getattr(profile, attr), key, value))
    return profile
