"""`bridgelab ports`, `bridgelab info` and `bridgelab emulate`."""

from __future__ import annotations

import argparse
from typing import Any

from bridgelab.cli import numbers
from bridgelab.cli.output import print_json
from bridgelab.cli.schemas import document, version_values
from bridgelab.text_safety import terminal_safe

HEX4 = "0x{:04X}"


def register(sub: Any) -> None:
    ports = sub.add_parser("ports", help="list serial ports and the Demo bridge")
    ports.add_argument("--json", action="store_true", help="machine-readable output")
    ports.add_argument(
        "--labgrid",
        action="store_true",
        help="list the labgrid places and who holds them (coordinator: $LG_COORDINATOR)",
    )
    ports.add_argument("--coordinator", metavar="HOST:PORT", help="labgrid coordinator")
    ports.set_defaults(handler=cmd_ports, json_command="ports")

    info = sub.add_parser("info", help="identify a bridge: firmware, HAN join state, diagnosis")
    info.add_argument("--port", required=True, metavar="URL", help="port or URL (emu://demo)")
    info.add_argument("--baud", type=numbers.baud_rate, default=115200, help="baud rate (115200)")
    add_driver_option(info)
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(handler=cmd_info, json_command="info")

    emulate = sub.add_parser(
        "emulate",
        help="run an emulated bridge on a pty or TCP port",
        description="Serve an emulated bridge until interrupted. The first line printed is "
        "`listening on URL`.",
    )
    emulate.add_argument(
        "--profile",
        default="demo",
        help="demo, legacy, orphaned, not-in-log, dead-app (only the radio's Gecko "
        "Bootloader answers) or a TOML file",
    )
    where = emulate.add_mutually_exclusive_group()
    where.add_argument(
        "--pty", action="store_true", help="serve on a new pseudo-terminal (default)"
    )
    where.add_argument("--tcp", metavar="HOST:PORT", help="serve on a TCP port (socket:// URL)")
    emulate.add_argument(
        "--rfc2217",
        action="store_true",
        help="with --tcp: speak RFC 2217 (rfc2217:// URL), whose DTR/RTS reach the "
        "emulated board's reset circuit (`recover --reset-sequence rts-dtr`)",
    )
    emulate.add_argument(
        "--baud",
        type=numbers.count(0, 16_000_000),
        default=115200,
        help="line rate to pace at (115200; 0 unpaced)",
    )
    emulate.add_argument(
        "--adapter-latency-ms",
        type=numbers.seconds(0, 10_000),
        default=1.0,
        help="USB adapter latency each way (1)",
    )
    emulate.add_argument(
        "--faults", default="", metavar="SPEC", help="name=value,... (see docs/emulator.md)"
    )
    emulate.add_argument(
        "--flash-timing",
        action="store_true",
        help="keep flash erase/write/verify times with --baud 0 (a separate line paces)",
    )
    emulate.add_argument("--state", metavar="FILE", help="keep the flash in FILE across runs")
    emulate.add_argument("--trust", metavar="DIR", help="extra trusted manufacturer keys")
    emulate.add_argument(
        "--seed",
        type=numbers.count(0, 2**63 - 1),
        default=0,
        help="random seed for faults and radio",
    )
    emulate.set_defaults(handler=cmd_emulate)


def cmd_ports(args: argparse.Namespace) -> int:
    if args.labgrid or args.coordinator:
        return _labgrid_places(args)
    from bridgelab.drivers.ports import scan_ports

    found = scan_ports()
    if args.json:
        print_json(document("ports", {"ports": [p.to_dict() for p in found]}))
        return 0
    width = max(len(p.url) for p in found)
    for port in found:
        extra = " ".join(x for x in (port.usb_id, port.serial_number or "") if x)
        line = f"{port.url:<{width}}  {port.description}{'  ' + extra if extra else ''}"
        print(terminal_safe(line))  # descriptions come from USB descriptors
    return 0


def _labgrid_places(args: argparse.Namespace) -> int:
    from bridgelab.updates.labgrid_places import Coordinator

    with Coordinator(args.coordinator) as coordinator:
        places = coordinator.places()
        address = coordinator.address
    if args.json:
        places_json = [p.to_dict() for p in places]
        print_json(document("ports", {"coordinator": address, "places": places_json}))
        return 0
    if not places:
        print(f"The labgrid coordinator at {address} has no places.")
        return 0
    width = max(len(p.name) for p in places)
    for place in places:
        holder = f"held by {place.acquired_by}" if place.acquired_by else "free"
        exporters = ", ".join(place.exporters) or "no exporter online"
        print(f"{place.name:<{width}}  {holder:<24}  {exporters}")
    return 0


def add_driver_option(parser: Any) -> None:
    parser.add_argument(
        "--driver",
        metavar="NAME",
        help="the driver to use (default: found by probing; bridgelab-service, "
        "gecko-bootloader, or an installed plug-in)",
    )


def _bootloader_dict(url: str, device: Any) -> dict[str, Any]:
    from bridgelab.drivers.capabilities import describe

    return {
        "port": url,
        **describe(device),
        "bootloader": {"name": device.menu.name, "version": device.version},
        "next_step": f"The application is not running. Recover it: bridgelab recover --port "
        f"{url} IMAGE.gbl",
    }


def _info_dict(url: str, baud: int, driver: str | None = None) -> dict[str, Any]:
    from bridgelab.drivers import protocol as p
    from bridgelab.drivers.capabilities import describe
    from bridgelab.drivers.client import BridgeClient
    from bridgelab.drivers.diagnosis import diagnose
    from bridgelab.drivers.factory import connect
    from bridgelab.drivers.gecko_bootloader import GeckoBootloader
    from bridgelab.drivers.join_state import JoinState
    from bridgelab.drivers.trial import read_update_status

    device = connect(url, driver, baudrate=baud)
    try:
        if isinstance(device, GeckoBootloader):
            return _bootloader_dict(url, device)
        if not isinstance(device, BridgeClient):
            return {"port": url, **describe(device)}
        identity = device.identity()
        join = device.join_status()
        p2p = device.p2p_link()
        update = read_update_status(device)
        session = device.session
    finally:
        device.close()
    findings = diagnose(identity, join, p2p, update)
    # The HAN radio figures (channel, PAN, LQI, RSSI, Comms Hub) are `radio`, present only
    # while the bridge is on the HAN: off it, a bridge reports placeholders (channel 0,
    # PAN 0xFFFF, RSSI -128), which are not measurements.
    on_han = join.state == JoinState.JOINED
    joined = join.to_dict()
    radio = {key: joined.pop(key) for key in RADIO_KEYS}
    radio["rssi_dbm"] = radio.pop("rssi")
    p2p_dict = p2p.to_dict()
    if p2p.state != p.LinkState.UP:
        p2p_dict["lqi"] = None  # no link, nothing measured
    return {
        "port": url,
        **describe(device),
        "model": identity.model,
        "protocol_version": session.protocol_version if session else None,
        "identity": identity.to_dict(),
        **version_values(
            firmware_version=identity.firmware_version,
            inactive_firmware_version=identity.inactive_firmware_version,
        ),
        "on_han": on_han,
        "join": joined,
        "radio": radio if on_han else None,
        "p2p": p2p_dict,
        # The bridge's own update state: `trial` true means the running image is not yet
        # confirmed and rolls back at the next reboot; null when the bridge cannot say.
        "update": {
            "state": update.state.name.lower() if update else None,
            "trial": (update.state == p.UpdateState.TRIAL) if update else None,
            "rolls_back_to": identity.inactive_firmware_version
            if update and update.state == p.UpdateState.TRIAL
            else None,
        },
        "diagnosis": [f.to_dict() for f in findings],
    }


RADIO_KEYS = ("channel", "pan_id", "lqi", "rssi", "ch_eui64")


def _version(value: int, display: Any) -> str:
    """ "1.2.0 (0x01020000)", or "none" for an empty slot."""
    text = display(value)
    return text if text == "none" else f"{text} (0x{value:08X})"


def _trial_note(info: dict[str, Any]) -> str:
    trial = info["update"]["trial"]
    if trial is None:
        return ", trial state unknown (the bridge does not report it)"
    return ", on trial: not confirmed" if trial else ""


def cmd_info(args: argparse.Namespace) -> int:
    from bridgelab.drivers.join_state import MEANINGS, JoinState
    from bridgelab.drivers.versions import display_version

    info = _info_dict(args.port, args.baud, args.driver)
    if args.json:
        print_json(document("info", info))
        return 0
    if "identity" not in info:
        _print_limited(info)
        return 0
    ident, join, p2p, radio = info["identity"], info["join"], info["p2p"], info["radio"]
    state = JoinState[join["state"].upper().replace("-", "_")]
    han = MEANINGS[state].title
    if radio is not None:
        han += (
            f" (channel {radio['channel']}, PAN {radio['pan_id']:#06x}, LQI {radio['lqi']}, "
            f"RSSI {radio['rssi_dbm']} dBm)"
        )
    rows = [
        ("Port", info["port"]),
        ("Model", info["model"]),
        ("EUI-64", ident["eui64"]),
        ("Serial number", ident["serial_number"]),
        ("Manufacturer", HEX4.format(ident["manufacturer_code"])),
        ("Image type", HEX4.format(ident["image_type"])),
        ("Hardware", HEX4.format(ident["hardware_version"])),
        (
            "Firmware (running)",
            _version(ident["firmware_version"], display_version) + _trial_note(info),
        ),
        ("Firmware (inactive)", _version(ident["inactive_firmware_version"], display_version)),
        ("Bootloader", _version(ident["bootloader_version"], display_version)),
        ("OTA client", "yes" if ident["ota_capable"] else "no (legacy)"),
        ("HAN", han),
        ("Comms Hub", radio["ch_eui64"] if radio is not None else "- (not on the HAN)"),
        (
            "P2P link",
            f"{p2p['state']} to {p2p['partner_eui64']}"
            + (f" (LQI {p2p['lqi']})" if p2p["lqi"] is not None else ""),
        ),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {terminal_safe(value)}")  # values the bridge reported
    print()
    for finding in info["diagnosis"]:
        print(terminal_safe(f"{finding['severity'].upper():<8} {finding['message']}"))
    return 0


def _print_limited(info: dict[str, Any]) -> None:
    """A device whose driver reports little: what it is, what it cannot say, what next."""
    rows = [("Port", info["port"]), ("Driver", info["driver"])]
    if "bootloader" in info:
        rows.append(
            ("Bootloader", f"{info['bootloader']['name']} v{info['bootloader']['version']}")
        )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print()
    # The facts an engineer looks for first; --json lists every missing capability.
    facts = ("identify", "firmware versions", "join status", "event log")
    for line in info.get("not_available", []):
        if line.startswith(facts):
            print(line)
    if info.get("next_step"):
        print()
        print(info["next_step"])


def cmd_emulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bridgelab.emulator.factory import EmulatorOptions
    from bridgelab.emulator.faults import parse_faults
    from bridgelab.emulator.profiles import load_profile
    from bridgelab.emulator.serve import run

    load_profile(args.profile)  # refuse a bad profile before announcing anything
    options = EmulatorOptions(
        profile=args.profile,
        baud=args.baud or None,
        latency_ms=args.adapter_latency_ms,
        flash_timing=args.flash_timing,
        faults=parse_faults(args.faults),
        seed=args.seed,
        state=Path(args.state) if args.state else None,
        trust=Path(args.trust) if args.trust else None,
    )
    return run(options, args.tcp, rfc2217=args.rfc2217)
