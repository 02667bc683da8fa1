"""`bridgelab recover`: a dead bridge application back through its radio's bootloader."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bridgelab.cli.output import print_json
from bridgelab.cli.update import add_session_arguments


def register(sub: Any) -> None:
    recover = sub.add_parser(
        "recover",
        help="recover a bridge through its radio's Gecko Bootloader (.gbl over XMODEM)",
        description="Find the radio's bootloader on the port (by probing, or by asking a "
        "still-running application to restart into it), check IMAGE.gbl (structure, CRC, "
        "signature with --trust-key), upload it with XMODEM-CRC, run it and confirm that "
        "the bridge answers with the image's version. Every attempt is logged like an "
        "update. Exit 0 only on a confirmed recovery.",
    )
    recover.add_argument("image", metavar="IMAGE.gbl", help="Gecko Bootloader image")
    add_session_arguments(recover)
    recover.add_argument(
        "--reset-sequence",
        type=reset_sequence_name,
        metavar="NAME",
        help="first reset the radio into its bootloader with this DTR/RTS sequence "
        "(rts-dtr: Sonoff ZBDongle-E and boards wired the same way); the link must carry "
        "the modem lines (a USB adapter, or rfc2217:// without ?ign_set_control)",
    )
    recover.add_argument(
        "--trust-key", metavar="PEM", help="public key the radio's signed .gbl files verify with"
    )
    recover.set_defaults(handler=cmd_recover, json_command="recover")


def reset_sequence_name(text: str) -> str:
    """A known sequence name (or an alias), refused at parse time with the list."""
    from bridgelab.drivers.reset_lines import UnknownResetSequence, get_sequence

    try:
        return get_sequence(text).name
    except UnknownResetSequence as error:
        raise argparse.ArgumentTypeError(f"{error.message} {error.action}") from error


def cmd_recover(args: argparse.Namespace) -> int:
    from bridgelab.cli.update import (
        ProgressPrinter,
        _open_store,
        describe_result,
        result_document,
        run_session,
        session_fields,
        stage_times,
    )
    from bridgelab.drivers.versions import display_version
    from bridgelab.updates.recovery import RecoveryEngine, RecoveryRequest

    request = RecoveryRequest(
        image_path=Path(args.image),
        reset_sequence=args.reset_sequence,
        trust_key=Path(args.trust_key) if args.trust_key else None,
        **session_fields(args),
    )
    store = _open_store(args.db)
    printer = ProgressPrinter(sys.stderr)
    engine = RecoveryEngine(request, store=store, subscribers=[printer])
    result, log_problem = run_session(engine, store, printer)
    if log_problem:
        print(
            f"warning: the triage log could not record all of it ({log_problem}).", file=sys.stderr
        )
    if args.json:
        print_json(result_document(result, "recover"))
        return 0 if result.ok else 1
    if result.ok:
        rate = (
            f", {result.throughput_bps / 1024:.1f} KiB/s"
            + (
                f" ({100 * result.line_efficiency:.0f} % of the line)"
                if result.line_efficiency
                else ""
            )
            if result.throughput_bps
            else ""
        )
        print(
            f"Recovered: the bridge runs {display_version(result.version_after)} again "
            f"({result.bytes:,} bytes through the Gecko Bootloader{rate})."
        )
    else:
        print(describe_result(result))  # what happened, and the failure's next step
    if result.stage_s:
        print(stage_times(result.stage_s))
    if result.session_id and not log_problem:
        print(f"Logged as session {result.session_id}.")
    return 0 if result.ok else 1
