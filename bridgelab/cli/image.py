"""`bridgelab image inspect|verify|build`: firmware images from the command line.

`inspect` shows every header field and the body's shape; `verify` exits 0 only when the
image is well-formed, signed by a trusted key and (given a device) compatible; `build`
writes an image in either body form, optionally signed. All three are thin clients of
`bridgelab.firmware`; `--json` gives integers and snake_case names for scripts.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bridgelab.cli.output import EXIT_FAILED, EXIT_OK, parse_int, print_json, report_error
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
    VerificationReport,
    assess_image,
    describe_image,
    reading_findings,
    signature_findings,
)

DEVICE_KEYS = ("manufacturer_code", "image_type", "hardware_version", "file_version", "eui64")
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
    inspect.set_defaults(handler=run_inspect)

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
        help=f"the device's identity ({', '.join(DEVICE_KEYS)}); repeat the option or list several",
    )
    verify.add_argument("--allow-downgrade", action="store_true", help="permit an older version")
    verify.add_argument("--reason", metavar="TEXT", help="why the downgrade is needed (recorded)")
    _add_reading_options(verify)
    verify.set_defaults(handler=run_verify)

    build = commands.add_parser("build", help="write an image from a payload")
    build.add_argument("--manufacturer", type=parse_int, required=True, metavar="N")
    build.add_argument("--image-type", type=parse_int, required=True, metavar="N")
    build.add_argument("--file-version", type=parse_int, required=True, metavar="N")
    build.add_argument("--hw-min", type=parse_int, metavar="N")
    build.add_argument("--hw-max", type=parse_int, metavar="N")
    build.add_argument("--destination", metavar="EUI64", help="make a device-specific file")
    build.add_argument(
        "--form",
        choices=tuple(str(form) for form in BUILD_FORMS),
        default="gbcs",
        help="gbcs (the default: the GB smart-metering form) or zigbee (sub-elements)",
    )
    build.add_argument("--header-string", default="", metavar="TEXT")
    build.add_argument("--stack-version", type=parse_int, default=0x0002, metavar="N")
    build.add_argument("--security-credential-version", type=parse_int, metavar="N")
    build.add_argument("--payload", type=Path, required=True, metavar="FILE")
    build.add_argument("--sign-key", type=Path, metavar="PEM", help="private key to sign with")
    build.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    build.add_argument("--json", action="store_true", help="machine-readable output")
    build.set_defaults(handler=run_build)


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
        type=parse_int,
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
        print_json({"file": str(args.file), **summary})
    else:
        _print_listing(_summary_rows(str(args.file), summary))
        _print_findings(summary["findings"], only_problems=False)
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    if args.reason is not None and not args.allow_downgrade:
        raise UsageError("--reason goes with --allow-downgrade.", code="usage")
    device = parse_device(args.device) if args.device else None
    override = DowngradeOverride(args.reason or "") if args.allow_downgrade else None
    trust = TrustStore.load(args.trust)
    image = load_image(
        args.file, max_size=args.max_size, form=_FORMS[args.form], strict=args.strict
    )
    report = assess_image(image, trust, device, override)
    if args.json:
        payload: dict[str, Any] = {"file": str(args.file), **report.to_dict()}
        if not report.ok:
            first = report.errors[0]
            payload = {"error": first.error.to_dict() if first.error else first.to_dict()}
            payload["report"] = {"file": str(args.file), **report.to_dict()}
        print_json(payload)
        return EXIT_OK if report.ok else EXIT_FAILED
    _print_verification(str(args.file), report)
    if report.ok:
        print("Result: OK to send")
        return EXIT_OK
    print(f"Result: REFUSED ({len(report.errors)} problem(s))")
    first_error = report.errors[0].error
    if first_error is not None:
        report_error(first_error, json_mode=False)
    return EXIT_FAILED


def parse_device(items: list[str]) -> DeviceIdentity:
    """Turn `KEY=VALUE` options into a DeviceIdentity; raises UsageError when one is wrong."""
    values: dict[str, int] = {}
    for item in items:
        name, equals, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or name not in DEVICE_KEYS:
            raise UsageError(
                f"--device {item!r} is not KEY=VALUE with KEY one of {', '.join(DEVICE_KEYS)}."
            )
        try:
            values[name] = parse_eui64(text) if name == "eui64" else parse_int(text)
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"--device {name}: {exc}") from None
    missing = [name for name in DEVICE_KEYS[:4] if name not in values]
    if missing:
        raise UsageError(f"--device is missing {', '.join(missing)} (eui64 is optional).")
    return DeviceIdentity(**values)


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
    write_file(args.output, data, what="image")
    result = {
        "output": str(args.output),
        "file_size": len(data),
        "body_form": str(image.body_form),
        "manufacturer_image_size": image.manufacturer_image_size,
        "manufacturer_image_sha256": manufacturer_image_sha256(image).hex(),
        "signer_key_id": signer_id,
    }
    if args.json:
        print_json(result)
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


def _summary_rows(file: str, summary: dict[str, Any]) -> list[tuple[str, str]]:
    low, high = summary["min_hw_version"], summary["max_hw_version"]
    destination = summary["destination_eui64"]
    elements = summary["sub_elements"] or [None]
    form_source = "given with --form" if summary["form_given"] else summary["form_evidence"]
    rows = [
        ("File", f"{file} ({summary['file_size']:,} bytes)"),
        ("Container", _container_text(summary["container"])),
        ("Body form", f"{summary['body_form']} ({form_source})"),
        ("Header version", _hex(summary["header_version"], 4)),
        ("Header length", str(summary["header_length"])),
        ("Field control", _hex(summary["field_control"], 4)),
        ("Manufacturer code", _hex(summary["manufacturer_code"], 4)),
        ("Image type", _hex(summary["image_type"], 4)),
        ("File version", _hex(summary["file_version"], 8)),
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
    trailing = summary["trailing"]
    rows += [
        ("Firmware element", summary["firmware_note"] or "-"),
        ("Trailing bytes", "none" if trailing is None else trailing["description"]),
        ("Inner image", _inner_text(summary["inner_image"], summary["inner_image_problem"])),
    ]
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


def _container_text(container: dict[str, Any] | None) -> str:
    if container is None:
        return "none"
    return (
        f"{container['name']}: OTA file of {container['inner_size']:,} bytes at offset "
        f"{container['inner_offset']} ({container['evidence']})"
    )


def _inner_text(inner: dict[str, Any] | None, problem: dict[str, Any] | None) -> str:
    if problem is not None:
        return f"DAMAGED [{problem['code']}] {problem['message']}"
    if inner is None:
        return "not a Silicon Labs GBL/EBL file"
    tags = ", ".join(dict.fromkeys(tag["name"] for tag in inner["tags"]))
    app = inner["application"]
    version = f"application version {_hex(app['version'], 8)}; " if app is not None else ""
    flags = (
        ("signed" if inner["signed"] else "not signed")
        + ", "
        + ("encrypted" if inner["encrypted"] else "not encrypted")
    )
    crc = "CRC-32 correct" if inner["crc_ok"] else "CRC-32 WRONG"
    padding = f"; {inner['padding']} bytes of 0xFF padding" if inner["padding"] else ""
    return (
        f"{inner['format'].upper()}, {len(inner['tags'])} tags ({tags}); {version}{flags}; "
        f"{crc}{padding}"
    )


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
        print(f"{name:<{width}}  {value}")


def _print_verification(file: str, report: VerificationReport) -> None:
    summary = report.to_dict()["image"]
    _print_listing(_summary_rows(file, summary))
    print()
    print("Findings:")
    for item in report.findings:
        line = f"  {item.severity:<7} [{item.code}] {item.message}"
        print(f"{line} {item.action}".rstrip() if item.severity != "info" else line)
