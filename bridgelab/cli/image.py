"""`bridgelab image inspect|verify|build`: firmware images from the command line.

`inspect` shows every header field and the body's shape; `verify` exits 0 only when the
image is well-formed, signed by a trusted key and (given a device) compatible; `build`
writes an image in either body form, optionally signed. All three are thin clients of
`bridgelab.firmware`; `--json` gives integers and snake_case names for scripts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bridgelab.cli import numbers
from bridgelab.cli.output import EXIT_FAILED, EXIT_OK, parse_int, print_json
from bridgelab.cli.schemas import document
from bridgelab.drivers.versions import display_version
from bridgelab.errors import UsageError
from bridgelab.eui64 import format_eui64, parse_eui64
from bridgelab.firmware.compat import DeviceIdentity, DowngradeOverride
from bridgelab.firmware.digest import manufacturer_image_sha256
from bridgelab.firmware.errors import hex_id
from bridgelab.firmware.files import DEFAULT_MAX_IMAGE_SIZE, read_file, write_file
from bridgelab.firmware.image import BUILD_FORMS, BodyForm, build_image, load_image, parse_image
from bridgelab.firmware.keys import key_id, load_private_key
from bridgelab.firmware.signing import sign_image
from bridgelab.firmware.trust import TrustStore
from bridgelab.firmware.verify import (
    READING_LABELS,
    VerificationReport,
    describe_image,
    reading_facts,
    reading_findings,
    signature_findings,
)
from bridgelab.safe_output import inputs
from bridgelab.text_safety import terminal_safe

DEVICE_KEYS = ("manufacturer_code", "image_type", "hardware_version", "file_version", "eui64")
BRIDGE_KEYS = ("ota_capable", "join_state")  # what the OTA verdict needs besides the identity
_BOOLEANS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
COMPATIBILITY_CODES = frozenset(
    {
        "reserved-file-version",
        "reserved-image-type",
        "not-firmware",
        "empty-upgrade-image",
        "wrong-manufacturer",
        "wrong-image-type",
        "hardware-out-of-range",
        "wrong-destination",
        "same-version",
        "downgrade",
        "downgrade-needs-reason",
    }
)
_FORMS: dict[str, BodyForm | None] = {"auto": None, **{str(form): form for form in BodyForm}}


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "image", help="inspect, verify and build OTA/GBCS firmware images"
    )
    commands = parser.add_subparsers(dest="image_command", metavar="ACTION", required=True)

    inspect = commands.add_parser("inspect", help="show every header field and the body")
    inspect.add_argument("file", type=Path, metavar="FILE")
    inspect.add_argument("--trust", type=Path, metavar="DIR", help="trust store to name the signer")
    _add_reading_options(inspect)
    inspect.set_defaults(handler=run_inspect, json_command="image-inspect")

    verify = commands.add_parser(
        "verify", help="exit 0 only for a well-formed, trusted and compatible image"
    )
    verify.add_argument("file", type=Path, metavar="FILE")
    verify.add_argument("--trust", type=Path, metavar="DIR", required=True)
    verify.add_argument(
        "--device",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help=f"the device's identity ({', '.join(DEVICE_KEYS)}; for the OTA verdict also "
        f"{', '.join(BRIDGE_KEYS)}); repeat the option or list several",
    )
    verify.add_argument(
        "--mode",
        choices=("local", "ota"),
        help="also exit non-zero when this mode is refused for the device",
    )
    verify.add_argument("--allow-downgrade", action="store_true", help="permit an older version")
    verify.add_argument("--reason", metavar="TEXT", help="why the downgrade is needed (recorded)")
    _add_reading_options(verify)
    verify.set_defaults(handler=run_verify, json_command="image-verify")

    build = commands.add_parser("build", help="write an image from a payload")
    build.add_argument("--manufacturer", type=numbers.u16_id, required=True, metavar="N")
    build.add_argument("--image-type", type=numbers.u16_id, required=True, metavar="N")
    build.add_argument("--file-version", type=numbers.u32_id, required=True, metavar="N")
    build.add_argument("--hw-min", type=numbers.u16_id, metavar="N")
    build.add_argument("--hw-max", type=numbers.u16_id, metavar="N")
    build.add_argument("--destination", metavar="EUI64", help="make a device-specific file")
    build.add_argument(
        "--form",
        choices=tuple(str(form) for form in BUILD_FORMS),
        default="gbcs",
        help="gbcs (the default: the GB smart-metering form) or zigbee (sub-elements)",
    )
    build.add_argument("--header-string", default="", metavar="TEXT")
    build.add_argument("--stack-version", type=numbers.u16_id, default=0x0002, metavar="N")
    build.add_argument("--security-credential-version", type=numbers.count(0, 0xFF), metavar="N")
    build.add_argument("--payload", type=Path, required=True, metavar="FILE")
    build.add_argument("--sign-key", type=Path, metavar="PEM", help="private key to sign with")
    build.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    build.add_argument("--force", action="store_true", help="replace OUT if it exists")
    build.add_argument("--json", action="store_true", help="machine-readable output")
    build.set_defaults(handler=run_build, json_command="image-build")


def _add_reading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--form",
        choices=tuple(_FORMS),
        default="auto",
        help="body form; auto detects it and says why (see docs/firmware-format.md)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse bytes after the total image size and files without exactly one "
        "upgrade image element (the ZigBee specification as written)",
    )
    parser.add_argument(
        "--max-size",
        type=numbers.count(1, 2**31 - 1),
        default=DEFAULT_MAX_IMAGE_SIZE,
        metavar="BYTES",
        help="refuse larger files unread (default 16 MiB)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run_inspect(args: argparse.Namespace) -> int:
    image = load_image(
        args.file, max_size=args.max_size, form=_FORMS[args.form], strict=args.strict
    )
    summary = describe_image(image)
    summary["findings"] = [item.to_dict() for item in reading_findings(image)]
    trust = TrustStore.load(args.trust) if args.trust is not None else None
    signer, status, _ = signature_findings(image, trust)
    summary["signature"]["status"] = status
    summary["signature"]["signer"] = signer.to_dict() if signer is not None else None
    if args.json:
        print_json(
            document("image-inspect", {"file": str(args.file), "image": image_document(summary)})
        )
    else:
        _print_listing(_summary_rows(str(args.file), summary))
        _print_findings(summary["findings"], only_problems=False)
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    """The pre-flight (`updates.preflight`) for an image and a device given by hand."""
    from bridgelab.updates.preflight import assess

    if args.reason is not None and not args.allow_downgrade:
        raise UsageError("--reason goes with --allow-downgrade.", code="usage")
    bridge = parse_device(args.device) if args.device else None
    if args.mode is not None and bridge is None:
        raise UsageError(
            "--mode needs --device: a mode is allowed or refused for a bridge.",
            action="Give the device's identity with --device KEY=VALUE ...",
        )
    override = DowngradeOverride(args.reason or "") if args.allow_downgrade else None
    trust = TrustStore.load(args.trust)
    image = load_image(
        args.file, max_size=args.max_size, form=_FORMS[args.form], strict=args.strict
    )
    preflight = assess(
        args.file, bridge, trust_dir=None, override=override, image=image, trust=trust
    )
    ok = preflight.image_ok and (args.mode is None or preflight.allowed(args.mode))
    if args.json:
        payload, error = verify_document(str(args.file), preflight, args.mode)
        print_json(document("image-verify", payload, error))
        return EXIT_OK if ok else EXIT_FAILED
    _print_verification(str(args.file), preflight.report)
    if bridge is not None:
        _print_modes(preflight)
    if ok:
        print("Result: OK to send")
        return EXIT_OK
    problems = _refusals(preflight, args.mode)
    count = len(problems)
    print(f"Result: REFUSED ({count} problem{'s' if count != 1 else ''})")
    first = problems[0]
    print(f"error [{first.code}]: {first.message}", file=sys.stderr)
    if first.action:
        print(f"next: {first.action}", file=sys.stderr)
    return EXIT_FAILED


def _refusals(preflight: Any, mode: str | None) -> list[Any]:
    """The errors that refuse the image (or the chosen mode), in the order they matter."""
    reasons = preflight.verdict(mode or "local").reasons
    return [r for r in reasons if r.severity == "error" and (mode or r.code != "no-bridge")]


def verify_document(
    file: str, preflight: Any, mode: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """`image verify --json`'s keys and error (schema `image-verify`): the same keys
    whether it passes or not."""
    report = preflight.report
    summary = report.to_dict()
    device = preflight.device
    compatibility = None
    if device is not None:
        problems = [f.code for f in report.errors if f.code in COMPATIBILITY_CODES]
        fit = report.compatibility
        compatibility = {
            "device": device_document(device),
            "fits": not problems,
            "problems": problems,
            "is_downgrade": preflight.is_downgrade,
            "downgrade_reason": fit.downgrade_reason if fit is not None else None,
            "wildcard_image_type": bool(fit and fit.wildcard_image_type),
            "wildcard_file_version": bool(fit and fit.wildcard_file_version),
        }
    refusals = _refusals(preflight, mode)
    ok = preflight.image_ok and (mode is None or preflight.allowed(mode))
    first = refusals[0] if refusals and not ok else None
    payload = {
        "ok": ok,
        "file": file,
        "image": image_document(summary["image"]),
        "compatibility": compatibility,
        "findings": summary["findings"],
        "modes": preflight.to_dict() if device is not None else None,
    }
    error = (
        None
        if first is None
        else {"code": first.code, "message": first.message, "action": first.action or None}
    )
    return payload, error


def image_document(image: dict[str, Any]) -> dict[str, Any]:
    """The image summary with its file version also as engineers write it."""
    return {**image, "file_version_text": display_version(image["file_version"])}


def device_document(device: DeviceIdentity) -> dict[str, Any]:
    out = device.to_dict()
    out["file_version_text"] = display_version(device.file_version)
    out["eui64"] = format_eui64(device.eui64) if device.eui64 is not None else None
    return out


def _print_modes(preflight: Any) -> None:
    print()
    print("Modes:")
    for verdict in preflight.modes:
        name = "local update" if verdict.mode == "local" else "simulated OTA"
        refusal = verdict.refusal
        if refusal is None:
            print(f"  {name:<14} allowed")
        else:
            print(f"  {name:<14} refused [{refusal.code}]: {refusal.message}")
        for warning in verdict.warnings:
            print(f"  {'':<14} warning [{warning.code}]: {warning.message}")


def parse_device(items: list[str]) -> Any:
    """Turn `KEY=VALUE` options into the pre-flight's BridgeFacts; raises UsageError."""
    from bridgelab.drivers.join_state import JoinState
    from bridgelab.updates.preflight import BridgeFacts

    values: dict[str, int] = {}
    ota_capable: bool | None = None
    join_state: JoinState | None = None
    keys = (*DEVICE_KEYS, *BRIDGE_KEYS)
    for item in items:
        name, equals, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or name not in keys:
            raise UsageError(
                f"--device {item!r} is not KEY=VALUE with KEY one of {', '.join(keys)}."
            )
        if name == "ota_capable":
            if text.strip().lower() not in _BOOLEANS:
                raise UsageError(f"--device ota_capable: {text!r} is not yes or no.")
            ota_capable = _BOOLEANS[text.strip().lower()]
            continue
        if name == "join_state":
            labels = {state.label: state for state in JoinState}
            if text.strip() not in labels:
                raise UsageError(
                    f"--device join_state: {text!r} is not a join state.",
                    action="Join states: " + ", ".join(labels) + ".",
                )
            join_state = labels[text.strip()]
            continue
        try:
            values[name] = parse_eui64(text) if name == "eui64" else parse_int(text)
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"--device {name}: {exc}") from None
    missing = [name for name in DEVICE_KEYS[:4] if name not in values]
    if missing:
        raise UsageError(
            f"--device is missing {', '.join(missing)} (eui64, ota_capable and join_state "
            "are optional)."
        )
    return BridgeFacts(DeviceIdentity(**values), ota_capable, join_state)


def run_build(args: argparse.Namespace) -> int:
    payload = read_file(args.payload, max_size=DEFAULT_MAX_IMAGE_SIZE, what="payload")
    destination = parse_eui64(args.destination) if args.destination else None
    private_key = load_private_key(args.sign_key) if args.sign_key is not None else None
    data = build_image(
        manufacturer_code=args.manufacturer,
        image_type=args.image_type,
        file_version=args.file_version,
        manufacturer_image=payload,
        body_form=BodyForm(args.form),
        stack_version=args.stack_version,
        header_string=args.header_string,
        security_credential_version=args.security_credential_version,
        destination_eui64=destination,
        min_hw_version=args.hw_min,
        max_hw_version=args.hw_max,
    )
    signer_id = None
    if private_key is not None:
        data = sign_image(data, private_key)
        signer_id = key_id(private_key.public_key())
    image = parse_image(data)
    guards = inputs([args.payload], "the payload") + inputs([args.sign_key], "the signing key")
    write_file(args.output, data, what="image", force=args.force, guards=guards)
    result = {
        "output": str(args.output),
        "file_size": len(data),
        "body_form": str(image.body_form),
        "manufacturer_image_size": image.manufacturer_image_size,
        "manufacturer_image_sha256": manufacturer_image_sha256(image).hex(),
        "signer_key_id": signer_id,
    }
    if args.json:
        print_json(document("image-build", result))
    else:
        signed = f"signed by key {signer_id}" if signer_id else "unsigned"
        default = " (the default)" if args.form == "gbcs" else ""
        print(
            f"Wrote {args.output}: {len(data):,} bytes, {image.body_form} form{default}, {signed}"
        )
        print(f"Manufacturer Image SHA-256: {result['manufacturer_image_sha256']}")
    return EXIT_OK


def _hex(value: int | None, digits: int) -> str:
    return "-" if value is None else hex_id(value, digits)


def _version(value: int) -> str:
    """ "1.3.0 (0x01030000)": as engineers say it, and as the header holds it."""
    return f"{display_version(value)} ({hex_id(value, 8)})"


def _summary_rows(file: str, summary: dict[str, Any]) -> list[tuple[str, str]]:
    low, high = summary["min_hw_version"], summary["max_hw_version"]
    destination = summary["destination_eui64"]
    elements = summary["sub_elements"] or [None]
    reading = dict(reading_facts(summary))
    rows = [
        ("File", f"{file} ({summary['file_size']:,} bytes)"),
        ("Container", reading["Container"]),
        ("Body form", summary["body_form"]),
        ("Form evidence", reading["Form evidence"]),
        ("Header version", _hex(summary["header_version"], 4)),
        ("Header length", str(summary["header_length"])),
        ("Field control", _hex(summary["field_control"], 4)),
        ("Manufacturer code", _hex(summary["manufacturer_code"], 4)),
        ("Image type", _hex(summary["image_type"], 4)),
        ("File version", _version(summary["file_version"])),
        ("Stack version", _hex(summary["stack_version"], 4)),
        ("Header string", repr(summary["header_string"])),
        ("Total image size", f"{summary['total_image_size']:,}"),
        ("Security credential", _hex(summary["security_credential_version"], 2)),
        ("Destination EUI-64", format_eui64(destination) if destination is not None else "-"),
        ("Hardware versions", "-" if low is None else f"{_hex(low, 4)} to {_hex(high, 4)}"),
    ]
    rows += [
        (
            "Sub-element" if element is not None else "Sub-elements",
            "-"
            if element is None
            else f"{_hex(element['tag'], 4)} {element['name']}: {element['length']:,} bytes "
            f"at offset {element['offset']}"
            + (
                f" (tag info {_hex(element['tag_info'], 4)})"
                if element["tag_info"] is not None
                else ""
            ),
        )
        for element in elements
    ]
    rows += [(label, reading[label]) for label in READING_LABELS[2:]]
    rows += [
        (
            "Manufacturer Image",
            f"{summary['manufacturer_image_size']:,} bytes at offset "
            f"{summary['manufacturer_image_offset']}",
        ),
        ("Image SHA-256", summary["manufacturer_image_sha256"]),
        ("Signature", _signature_text(summary["signature"])),
    ]
    return rows


def _print_findings(findings: list[dict[str, Any]], *, only_problems: bool) -> None:
    shown = [item for item in findings if not only_problems or item["severity"] != "info"]
    if not shown:
        return
    print()
    print("Findings:")
    for item in shown:
        line = f"  {item['severity']:<7} [{item['code']}] {item['message']}"
        print(f"{line} {item['action']}".rstrip() if item["action"] else line)


def _signature_text(signature: dict[str, Any]) -> str:
    if not signature["present"]:
        return "none (unsigned)"
    covered = f"{signature['algorithm']} over bytes 0-{signature['offset'] - 1}"
    signer = signature.get("signer")
    if signer is not None:
        label = f" ({signer['label']})" if signer["label"] else ""
        return f"{covered}; signed by key {signer['key_id']}{label}"
    status = signature.get("status", "not-checked")
    if status == "not-checked":
        return f"{covered}; signer not checked (give --trust DIR)"
    return f"{covered}; {status}"


def _print_listing(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {terminal_safe(value)}")


def _print_verification(file: str, report: VerificationReport) -> None:
    summary = report.to_dict()["image"]
    _print_listing(_summary_rows(file, summary))
    print()
    print("Findings:")
    for item in report.findings:
        line = f"  {item.severity:<7} [{item.code}] {item.message}"
        print(f"{line} {item.action}".rstrip() if item.severity != "info" else line)
