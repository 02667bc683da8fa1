"""`bridgelab update` and `bridgelab campaign`: the update engine from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bridgelab.cli import numbers
from bridgelab.cli.output import print_json
from bridgelab.errors import UsageError

if TYPE_CHECKING:
    from bridgelab.data.store import TriageStore
    from bridgelab.updates.engine import UpdateEngine, UpdateResult


def register(sub: Any) -> None:
    update = sub.add_parser(
        "update",
        help="update a bridge locally or by simulated OTA, and log the attempt",
        description="Validate IMAGE against the bridge, then send it (local: the service "
        "port; ota: the bridge's own OTA client) and confirm the new version runs and the "
        "bridge is back on the HAN. Exit 0 only on a confirmed update.",
    )
    update.add_argument("image", metavar="IMAGE", help="OTA/GBCS upgrade file")
    add_session_arguments(update)
    update.add_argument("--mode", choices=("local", "ota"), default="local")
    update.add_argument("--trust", metavar="DIR", help="folder of trusted manufacturer keys")
    update.add_argument("--allow-downgrade", action="store_true", help="permit an older image")
    update.add_argument("--reason", metavar="TEXT", help="why the downgrade (required with it)")
    update.add_argument("--trace", action="store_true", help="also log every frame (raw trace)")
    update.add_argument(
        "--healthy-s",
        type=numbers.seconds(0, 3600),
        default=None,
        help="health check after the update (2 s; 0 to 3600)",
    )
    update.add_argument(
        "--form",
        choices=("auto", "zigbee", "gbcs", "telink", "hue-sbl"),
        default="auto",
        help="the image's body form; auto detects it (see docs/firmware-format.md)",
    )
    update.add_argument(
        "--strict",
        action="store_true",
        help="refuse an image with bytes after its total size or not exactly one upgrade image",
    )
    update.set_defaults(handler=cmd_update, json_command="update")

    campaign = sub.add_parser(
        "campaign",
        help="run a lab campaign from a TOML plan",
        description="Update many bridges in parallel lanes, in the plan's priority order; "
        "see docs/campaigns.md for the plan format.",
    )
    campaign.add_argument("plan", metavar="PLAN.toml")
    campaign.add_argument("--db", metavar="FILE", help="triage log")
    campaign.add_argument("--json", action="store_true", help="print the summary as JSON")
    campaign.set_defaults(handler=cmd_campaign, json_command="campaign")


def add_session_arguments(parser: Any) -> None:
    """The options of every engine session (`update`, `recover`): the port and its line,
    the driver, the triage log and who is logged, JSON out (`session_fields` reads them)."""
    parser.add_argument("--port", required=True, metavar="URL", help="port or URL (emu://demo)")
    parser.add_argument("--baud", type=numbers.baud_rate, default=115200, help="baud rate (115200)")
    parser.add_argument(
        "--line-rate",
        type=numbers.baud_rate,
        metavar="BAUD",
        help="the line's baud rate where the link cannot tell (socket://, a pty): line "
        "efficiency is reported only where the rate is known",
    )
    parser.add_argument(
        "--driver", metavar="NAME", help="driver to open the port with (default: probing)"
    )
    parser.add_argument(
        "--db", metavar="FILE", help="triage log (default: $BRIDGELAB_DB or the user data folder)"
    )
    parser.add_argument("--operator", help="engineer's name for the log")
    parser.add_argument("--site", dest="site_ref", help="site reference for the log")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def session_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields `add_session_arguments` gave (an `UpdateRequest`'s keywords)."""
    return {
        "port_url": args.port,
        "baudrate": args.baud,
        "line_baud": args.line_rate,
        "driver": args.driver,
        "operator": args.operator,
        "site_ref": args.site_ref,
    }


class ProgressPrinter:
    """Stage lines, and on a terminal a progress bar redrawn in place."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._bar_shown = False

    def end_bar(self) -> None:
        """End the bar's line, if one is drawn, so that what follows starts on its own."""
        if self._bar_shown:
            self.out.write("\n")
            self._bar_shown = False

    def __call__(self, event: object) -> None:
        from bridgelab.updates import events as ev

        if isinstance(event, ev.Progress):
            if self.tty:
                self.out.write("\r" + progress_line(event))
                self.out.flush()
                self._bar_shown = True
            return
        line = None
        if isinstance(event, ev.StageStarted):
            line = f"- {event.stage.value}" + (f": {event.detail}" if event.detail else "")
        elif isinstance(event, ev.Retry):
            line = f"  retry {event.attempt}: {event.reason}"
        elif isinstance(event, ev.Notice):
            line = f"  {event.level}: {event.message}"
        if line is not None:
            self.end_bar()
            print(line, file=self.out, flush=True)


def progress_line(event: Any) -> str:
    width = 30
    filled = int(width * event.fraction)
    bar = "#" * filled + "." * (width - filled)
    parts = [f"[{bar}] {100 * event.fraction:5.1f} %", f"{event.done:,}/{event.total:,} B"]
    if event.simulated_s is not None:
        parts.append(f"simulated {event.simulated_s / 60:.1f} min")
    else:
        parts.append(f"{event.rate_bps / 1024:.1f} KiB/s")
    if event.line_efficiency is not None:
        parts.append(f"line {100 * event.line_efficiency:.0f} %")
    if event.eta_s is not None:
        minutes, seconds = divmod(int(event.eta_s), 60)
        parts.append(f"ETA {minutes}:{seconds:02d}")
    return "  ".join(parts) + "   "


def describe_result(result: Any) -> str:
    """The verdict in a few lines: what happened, once, then the next step (if any)."""
    from bridgelab.updates.verdict import update_verdict

    verdict = update_verdict(result)
    if result.ok:
        text = verdict.headline + " (" + ", ".join(verdict.details) + ")."
    else:
        error = result.error or {}
        text = f"FAILED at {result.failure_stage} [{result.result}]: {error.get('message') or ''}"
    if verdict.next_step:
        text += f"\nNext: {verdict.next_step}"
    return text


def stage_times(stage_s: dict[str, float]) -> str:
    """One line with the time each stage took, so the cost of the command is visible."""
    return "Time per stage: " + ", ".join(f"{name} {s:.2f} s" for name, s in stage_s.items())


def result_document(result: Any, command: str = "update") -> dict[str, Any]:
    """`update --json` (and `recover --json`, the same shape): the result in its schema,
    with the verdict's next step."""
    from bridgelab.cli.schemas import document
    from bridgelab.updates.verdict import update_verdict

    payload = result.to_dict()
    error = payload.pop("error")
    payload["next_step"] = update_verdict(result).next_step or None
    return document(command, payload, error)


def _open_store(db: str | None) -> Any:
    """The triage log; a log that cannot be opened stops the command before any bridge
    is touched (an update nobody can trace is not one a field engineer should run)."""
    from bridgelab.data.errors import StoreError
    from bridgelab.data.store import TriageStore

    try:
        store = TriageStore.open(db)
    except StoreError as error:
        raise StoreError(
            f"{error.message} Nothing was sent to any bridge.",
            code=error.code,
            action="Free some disk space, or choose another log with --db FILE or "
            "BRIDGELAB_DB, then run the command again.",
        ) from error
    for warning in store.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return store


def _close_store(store: Any) -> str | None:
    """Close the log; a failure here must not hide the update's own result."""
    from bridgelab.data.errors import StoreError

    try:
        store.close()
    except StoreError as error:
        return str(error)
    return None


def run_session(
    engine: UpdateEngine, store: TriageStore, printer: ProgressPrinter
) -> tuple[UpdateResult, str | None]:
    """Run an update or recovery engine to its result, then close the log and the bar.

    Returns the result and what the triage log could not record (None: all of it). On
    Ctrl-C the session is cancelled and the log closed before the interrupt goes on.
    """
    try:
        result = engine.run()
    except KeyboardInterrupt:
        engine.cancel()
        _close_store(store)
        raise
    closing = _close_store(store)
    printer.end_bar()
    problem = engine.log.problem
    return result, str(problem) if problem is not None else closing


def cmd_update(args: argparse.Namespace) -> int:
    from bridgelab.updates.engine import UpdateEngine
    from bridgelab.updates.policy import UpdatePolicy
    from bridgelab.updates.request import UpdateRequest

    if args.allow_downgrade and not (args.reason and args.reason.strip()):
        raise UsageError(
            "--allow-downgrade needs --reason TEXT.",
            code="downgrade-needs-reason",
            action="Say why the older image must go on (it is recorded in the triage log).",
        )
    image = Path(args.image)
    policy = UpdatePolicy() if args.healthy_s is None else UpdatePolicy(healthy_s=args.healthy_s)
    request = UpdateRequest(
        image_path=image,
        mode=args.mode,
        trust_dir=Path(args.trust) if args.trust else None,
        allow_downgrade=args.allow_downgrade,
        downgrade_reason=args.reason,
        policy=policy,
        image_form=None if args.form == "auto" else args.form,
        strict_image=args.strict,
        **session_fields(args),
    )
    store = _open_store(args.db)
    printer = ProgressPrinter(sys.stderr)
    engine = UpdateEngine(request, store=store, subscribers=[printer], trace=args.trace)
    result, log_problem = run_session(engine, store, printer)
    if log_problem:
        print(
            f"warning: the triage log could not record all of this session ({log_problem}); "
            "the result below is what the bridge did.",
            file=sys.stderr,
        )
    if args.json:
        print_json(result_document(result))
    else:
        print(describe_result(result))
        if result.stage_s:
            print(stage_times(result.stage_s))
        if result.session_id and not log_problem:
            print(f"Logged as session {result.session_id}.")
    return 0 if result.ok else 1


def cmd_campaign(args: argparse.Namespace) -> int:
    from bridgelab.updates.campaign import load_plan, run_campaign

    plan = load_plan(Path(args.plan))
    store = _open_store(args.db)
    try:
        summary = run_campaign(plan, store=store, progress=sys.stderr)
    finally:
        problem = _close_store(store)
    if problem:
        print(f"warning: the triage log could not record everything ({problem})", file=sys.stderr)
    if args.json:
        from bridgelab.cli.schemas import document

        print_json(document("campaign", summary.to_dict()))
    else:
        print(summary.describe())
    return 0 if summary.all_passed else 1
