"""`bridgelab install-code CODE [--json] [--show-key]`: check an install code from a label.

Says which length the code is and whether its CRC matches; a bad length or CRC is
refused with the reason (exit 1). The link key is derived and printed only with
`--show-key`: it is a secret.
"""

from __future__ import annotations

import argparse
from typing import Any

from bridgelab.cli.output import EXIT_OK, print_json
from bridgelab.cli.schemas import document


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "install-code",
        help="check an install code's CRC and length; derive its link key on request",
        description=(
            "Check a ZigBee install code as printed on a device label (hex; spaces and "
            "dashes between groups are fine) and say which length it is. The link key it "
            "gives is shown only with --show-key."
        ),
    )
    parser.add_argument(
        "code", nargs="+", metavar="CODE", help="the install code with its CRC, in hex"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--show-key", action="store_true", help="also print the derived link key (a secret)"
    )
    parser.set_defaults(handler=run, json_command="install-code")


def run(args: argparse.Namespace) -> int:
    # Imported here so other commands do not pay for loading `cryptography`.
    from bridgelab.zigbee.install_code import CRC_SIZE, derive_link_key, parse_install_code

    code = parse_install_code(" ".join(args.code))
    code.require_crc_ok()
    key = derive_link_key(code) if args.show_key else None
    if args.json:
        result: dict[str, Any] = {
            "install_code": code.to_bytes().hex().upper(),
            "length": code.length,
            "total_length": code.length + CRC_SIZE,
            "crc": f"0x{code.crc_found:04X}",
            "crc_ok": True,
        }
        result["link_key"] = key.hex().upper() if key is not None else None  # only when asked
        print_json(document("install-code", result))
        return EXIT_OK
    print(f"Install code: {code.formatted()}")
    print(f"Length:       {code.length} bytes + {CRC_SIZE}-byte CRC")
    print(f"CRC:          0x{code.crc_found:04X} correct")
    if key is not None:
        print(f"Link key:     {key.hex().upper()}")
    else:
        print("Link key:     not shown (add --show-key to print it)")
    return EXIT_OK
