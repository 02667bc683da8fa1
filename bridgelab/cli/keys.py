"""`bridgelab keys generate|id`: manufacturer signing keys for the trust store.

`generate` writes a private key (owner-only, 0600) and its public PEM named as a trust
store expects, and prints their paths and the key id: never the key itself. `id` prints
the id of a key file, as the trust store's revocation list spells it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bridgelab.cli import numbers
from bridgelab.cli.output import EXIT_OK, print_json
from bridgelab.cli.schemas import document
from bridgelab.firmware.errors import KeyFileError
from bridgelab.firmware.keys import (
    generate_key_files,
    key_id,
    load_private_key,
    load_public_key,
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "keys", help="generate and identify manufacturer signing keys"
    )
    commands = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    generate = commands.add_parser("generate", help="make a P-256 key pair for one manufacturer")
    generate.add_argument("--manufacturer", type=numbers.u16_id, required=True, metavar="N")
    generate.add_argument("--out", type=Path, required=True, metavar="DIR")
    generate.add_argument(
        "--label", metavar="TEXT", help="file name label (default: start of the key id)"
    )
    generate.add_argument(
        "--force", action="store_true", help="replace an existing public key file (never a .key)"
    )
    generate.add_argument("--json", action="store_true", help="machine-readable output")
    generate.set_defaults(handler=run_generate, json_command="keys-generate")

    identify = commands.add_parser("id", help="print the key id of a public or private key")
    identify.add_argument("file", type=Path, metavar="PEM")
    identify.add_argument("--json", action="store_true", help="machine-readable output")
    identify.set_defaults(handler=run_id, json_command="keys-id")


def run_generate(args: argparse.Namespace) -> int:
    made = generate_key_files(args.manufacturer, args.out, label=args.label, force=args.force)
    if args.json:
        print_json(
            document(
                "keys-generate",
                {
                    "manufacturer_code": made.manufacturer_code,
                    "key_id": made.key_id,
                    "private_key_path": str(made.private_key_path),
                    "public_key_path": str(made.public_key_path),
                },
            )
        )
    else:
        print(f"Key id:      {made.key_id}")
        print(f"Private key: {made.private_key_path} (owner-only; keep it off shared drives)")
        print(f"Public key:  {made.public_key_path} (copy into the trust store folder)")
    return EXIT_OK


def run_id(args: argparse.Namespace) -> int:
    try:
        public_key = load_public_key(args.file)
    except KeyFileError:
        public_key = load_private_key(args.file).public_key()
    identifier = key_id(public_key)
    if args.json:
        print_json(document("keys-id", {"file": str(args.file), "key_id": identifier}))
    else:
        print(identifier)
    return EXIT_OK
