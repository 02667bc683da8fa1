"""The device view's wording: a bridge snapshot as facts, a state word and a headline.

Pure functions over `BridgeSnapshot`'s protocol records (no Qt), so the device view only
places text and the tests check the words themselves.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bridgelab.drivers import protocol as p
from bridgelab.drivers.diagnosis import WEAK_LQI, Finding
from bridgelab.drivers.join_state import JOIN_FAILURE_CODES, MEANINGS, JoinState
from bridgelab.drivers.versions import display_version, format_version
from bridgelab.eui64 import format_eui64
from bridgelab.gui.formatting import hardware_version, hex_code

IDENTITY_LABELS = ("Manufacturer", "Model", "Image type", "Hardware", "EUI-64", "Serial number")
FIRMWARE_LABELS = ("Running", "Inactive slot", "Bootloader", "OTA client")
HAN_LABELS = (
    "Meaning",
    "Channel",
    "PAN id",
    "Signal",
    "Comms Hub",
    "Device log type",
    "Last failure",
)
P2P_LABELS = ("Link", "Partner", "Signal")

DEVICE_TYPES = {0: "GSME", 1: "ESME", 2: "CHF", 3: "GPF", 4: "HCALCS", 5: "PPMID", 6: "Type 2"}


def identity_facts(identity: p.IdentityResponse) -> list[tuple[str, str]]:
    return [
        ("Manufacturer", hex_code(identity.manufacturer_code)),
        ("Model", identity.model or "-"),
        ("Image type", hex_code(identity.image_type)),
        ("Hardware", hardware_version(identity.hardware_version)),
        ("EUI-64", format_eui64(identity.eui64)),
        ("Serial number", identity.serial_number or "-"),
    ]


def firmware_facts(identity: p.IdentityResponse) -> list[tuple[str, str]]:
    def version(value: int) -> str:
        shown = display_version(value)
        return shown if shown == "none" else f"{shown}  ({hex_code(value, 8)})"

    return [
        ("Running", version(identity.firmware_version)),
        ("Inactive slot", version(identity.inactive_firmware_version)),
        ("Bootloader", format_version(identity.bootloader_version)),
        ("OTA client", "yes" if identity.ota_capable else "no (local updates only)"),
    ]


def signal_words(lqi: int, rssi: int) -> str:
    quality = "weak" if lqi < WEAK_LQI else "good"
    return f"LQI {lqi}, RSSI {rssi} dBm ({quality})"


def join_word(state: JoinState) -> str:
    """The state as one word or short phrase for the badge ("JOINED", "NOT IN DEVICE LOG")."""
    return state.label.replace("-", " ").upper()


def han_facts(join: p.JoinStatusResponse) -> list[tuple[str, str]]:
    meaning = MEANINGS[join.state]
    on_han = join.state == JoinState.JOINED
    failure = "none"
    if join.last_failure_code != p.NO_FAILURE:
        reason = JOIN_FAILURE_CODES.get(join.last_failure_code, "unknown code")
        failure = f"GBCS code {join.last_failure_code} ({reason})"
    return [
        ("Meaning", meaning.meaning),
        ("Channel", str(join.channel) if join.channel else "-"),
        ("PAN id", hex_code(join.pan_id) if join.pan_id != 0xFFFF else "-"),
        ("Signal", signal_words(join.lqi, join.rssi) if on_han else "-"),
        ("Comms Hub", format_eui64(join.ch_eui64) if join.ch_eui64 else "-"),
        ("Device log type", DEVICE_TYPES.get(join.device_type, "-")),
        ("Last failure", failure),
    ]


def p2p_facts(link: p.P2PLinkResponse | None) -> list[tuple[str, str]]:
    if link is None:
        return [("Link", "unknown"), ("Partner", "-"), ("Signal", "-")]
    up = link.state == p.LinkState.UP
    return [
        ("Link", "up" if up else "DOWN"),
        ("Partner", format_eui64(link.partner_eui64)),
        ("Signal", signal_words(link.lqi, link.rssi) if up else "-"),
    ]


def split_finding(message: str) -> tuple[str, str]:
    """ "Not OTA capable: this bridge ... Update it locally now." -> (title, the rest)."""
    title, sep, rest = message.partition(": ")
    if sep and len(title) <= 80:
        return title, rest[:1].upper() + rest[1:]
    return message, ""


def headline(findings: tuple[Finding, ...] | list[Finding]) -> Finding | None:
    """The finding that matters most (diagnose() sorts them most severe first)."""
    return findings[0] if findings else None


def finding_headline(finding: Finding) -> tuple[str, str]:
    """(headline, details) for the top of the device view.

    A problem's headline carries its next step ("Not OTA capable: update it locally
    now"), the last sentence of the finding; the details keep the explanation before it,
    so the banner says each thing once.
    """
    title, rest = split_finding(finding.message)
    if finding.severity == "info" or not rest:
        return title, rest
    sentences = [s for s in rest.rstrip(".").split(". ") if s]
    step = sentences[-1] if len(sentences) > 1 else ""
    if not step:
        return title, rest
    explanation = ". ".join(sentences[:-1]) + "."
    return f"{title}: {step[:1].lower()}{step[1:]}", explanation


def is_demo_bridge(url: str) -> bool:
    """The Demo bridge (emu://demo, whatever its options), not another emulated profile."""
    parts = urlsplit(url)
    return parts.scheme.lower() == "emu" and (parts.netloc + parts.path).strip("/") == "demo"
