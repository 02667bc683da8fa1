"""`bridgelab log`: the triage log from the command line.

    bridgelab log list   [filters] [--limit N]
    bridgelab log show   SESSION [--all-events] [--trace]
    bridgelab log export --format csv|json [--table sessions|events] [-o FILE] [filters]
    bridgelab log merge  FILE...
    bridgelab log bundle [SESSION] -o ZIP [filters] [--no-trace]
    bridgelab log stats  [filters] [--by GROUP ...]
    bridgelab log note   SESSION TEXT [--author NAME]

Every action takes `--db FILE` (default: `BRIDGELAB_DB`, else the user data folder) and
`--json`. Filters: `--device`, `--result`, `--failure-class`, `--since`, `--until`,
`--site`, `--mode`. SESSION is a session id or a unique prefix of one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bridgelab.cli import log_format
from bridgelab.cli.output import format_table, parse_int, print_json
from bridgelab.cli.schemas import document, version_values
from bridgelab.data import FinalState, Mode, SessionFilter
from bridgelab.data.clock import parse_when
from bridgelab.data.stats import DEFAULT_GROUPS, GROUPS
from bridgelab.errors import UsageError
from bridgelab.safe_output import safe_output, triage_log
from bridgelab.text_safety import terminal_safe

if TYPE_CHECKING:
    from bridgelab.data import TriageStore
    from bridgelab.data.records import SessionRecord

# The parser is built for every `bridgelab` command, so the store itself (sqlite-utils)
# is imported only by the handlers that use it.
FORMATS = ("csv", "json")
TABLES = ("sessions", "events")

LIST_LIMIT = 50
BUNDLE_LIMIT = 50


def _positive(text: str) -> int:
    value = parse_int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number above 0")
    return value


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="FILE",
        help="triage log file (default: $BRIDGELAB_DB or the user data folder)",
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    return common


def _filters(default_limit: int | None) -> argparse.ArgumentParser:
    filters = argparse.ArgumentParser(add_help=False)
    group = filters.add_argument_group("filters")
    group.add_argument("--device", metavar="EUI64", help="sessions of this device")
    group.add_argument("--result", choices=[s.value for s in FinalState], help="final state")
    group.add_argument(
        "--failure-class", metavar="CLASS", help="failure class, e.g. stalled (see docs/triage.md)"
    )
    group.add_argument("--since", metavar="WHEN", help="started at or after: 2025-06-01, 7d, 12h")
    group.add_argument("--until", metavar="WHEN", help="started before (same forms as --since)")
    group.add_argument("--site", metavar="REF", help="site reference")
    group.add_argument(
        "--campaign", metavar="ID",
        help="sessions of a campaign: its id, its name (every run), or `all`",
    )  # fmt: skip
    group.add_argument("--mode", choices=[m.value for m in Mode], help="update mode")
    group.add_argument(
        "--limit", type=_positive, default=default_limit, metavar="N",
        help=f"at most N sessions (default: {default_limit or 'all'})",
    )  # fmt: skip
    return filters


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "log",
        help="triage log: list, show, export, merge, bundle, stats, note",
        description="Read, merge and export the triage log of update attempts.",
    )
    actions = parser.add_subparsers(dest="log_action", metavar="ACTION", required=True)
    common = _common()

    listing = actions.add_parser(
        "list", parents=[common, _filters(LIST_LIMIT)], help="sessions, newest first"
    )
    listing.set_defaults(handler=list_sessions, json_command="log-list")

    show = actions.add_parser("show", parents=[common], help="one session and its story")
    show.add_argument("session", metavar="SESSION", help="session id or a unique prefix")
    show.add_argument("--all-events", action="store_true", help="do not fold progress events")
    show.add_argument("--trace", action="store_true", help="also print the raw frames")
    show.set_defaults(handler=show_session, json_command="log-show")

    export = actions.add_parser(
        "export", parents=[common, _filters(None)], help="sessions or events as CSV or JSON"
    )
    export.add_argument("--format", choices=FORMATS, required=True)
    export.add_argument(
        "--table",
        choices=TABLES,
        default="sessions",
        help="CSV only: which rows (default sessions)",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    export.add_argument("--force", action="store_true", help="replace FILE if it exists")
    export.set_defaults(handler=export_log, json_command="log-export")

    merge = actions.add_parser("merge", parents=[common], help="merge other laptops' logs in")
    merge.add_argument("files", nargs="+", metavar="FILE", help="triage log files to merge")
    merge.set_defaults(handler=merge_logs, json_command="log-merge")

    bundle = actions.add_parser(
        "bundle", parents=[common, _filters(BUNDLE_LIMIT)], help="defect bundle zip for a supplier"
    )
    bundle.add_argument("session", nargs="?", metavar="SESSION", help="one session (else filters)")
    bundle.add_argument("-o", "--output", metavar="ZIP", required=True, help="zip file to write")
    bundle.add_argument("--no-trace", action="store_true", help="leave the raw frames out")
    bundle.add_argument("--force", action="store_true", help="replace ZIP if it exists")
    bundle.set_defaults(handler=bundle_sessions, json_command="log-bundle")

    stats = actions.add_parser(
        "stats", parents=[common, _filters(None)], help="failure rates by version, model, ..."
    )
    stats.add_argument(
        "--by", action="append", choices=list(GROUPS), metavar="GROUP",
        help=f"group by ({', '.join(GROUPS)}); repeat for more (default: "
        f"{', '.join(DEFAULT_GROUPS)})",
    )  # fmt: skip
    stats.set_defaults(handler=show_stats, json_command="log-stats")

    note = actions.add_parser("note", parents=[common], help="add a note to a session")
    note.add_argument("session", metavar="SESSION", help="session id or a unique prefix")
    note.add_argument("text", metavar="TEXT", help="the note")
    note.add_argument("--author", help="who writes it (default: the user name)")
    note.set_defaults(handler=add_note, json_command="log-note")


@contextmanager
def _opened(
    args: argparse.Namespace, *, writes: bool = False, create: bool = False
) -> Iterator[TriageStore]:
    """The log named by --db (or the default); only `merge` may create one.

    Commands that write (`merge`, `note`) check the file's integrity first, so that a
    damaged log is reported rather than written to.
    """
    from bridgelab.data import TriageStore, default_db_path
    from bridgelab.data.store import writable

    path = Path(args.db).expanduser() if args.db else default_db_path()
    # A log on a read-only stick or share can still be listed, shown and exported.
    read_only = not writes and path.is_file() and not writable(path)
    store = TriageStore.open(path, create=create, integrity_check=writes, read_only=read_only)
    with store:
        for warning in store.warnings:
            text = terminal_safe(f"{warning.message} {warning.action}")
            print(f"warning [{warning.code}]: {text}", file=sys.stderr)
        yield store


def session_json(record: SessionRecord) -> dict[str, Any]:
    """A session for `--json`: its versions also as engineers write them (1.3.0)."""
    return {
        **record.to_dict(),
        **version_values(
            version_before=record.version_before,
            version_after=record.version_after,
            image_version=record.image_version,
        ),
    }


def _filter_from(args: argparse.Namespace) -> SessionFilter:
    return SessionFilter(
        device=args.device,
        result=args.result,
        failure_class=args.failure_class,
        since=parse_when(args.since) if args.since else None,
        until=parse_when(args.until) if args.until else None,
        site=args.site,
        mode=args.mode,
        campaign=args.campaign,
    )


def list_sessions(args: argparse.Namespace) -> int:
    filters = _filter_from(args)
    with _opened(args) as store:
        records = store.query_sessions(filters, limit=args.limit)
        total = store.count_sessions(filters)
        if args.json:
            sessions = [session_json(r) for r in records]
            print_json(document("log-list", {"total": total, "sessions": sessions}))
            return 0
        if not records:
            print("No sessions match.")
            return 0
        print(log_format.sessions_table(records, store.short_ids([r.id for r in records])))
        print(f"\n{len(records):,} of {total:,} sessions, newest first.")
    _warn_unreadable([f"session {r.id}: {p}" for r in records for p in r.problems])
    return 0


def _warn_unreadable(problems: list[str]) -> None:
    """Rows a log holds that cannot be read as stored (an older merge's bad JSON)."""
    for problem in problems[:20]:
        text = terminal_safe(f"{problem}; shown without it")
        print(f"warning [unreadable-record]: {text}", file=sys.stderr)
    if len(problems) > 20:
        print(f"warning [unreadable-record]: and {len(problems) - 20:,} more", file=sys.stderr)


def show_session(args: argparse.Namespace) -> int:
    with _opened(args) as store:
        record = store.get_session(args.session)
        device = store.get_device(record.device_eui64) if record.device_eui64 else None
        image = store.get_image(record.image_sha256) if record.image_sha256 else None
        events = store.session_events(record.id)
        notes = store.session_notes(record.id)
        frames = store.session_frames(record.id) if args.trace else []
    if args.json:
        payload: dict[str, Any] = {
            "session": session_json(record),
            "device": device,
            "image": image,
            "events": [e.to_dict() for e in events],
            "notes": [n.to_dict() for n in notes],
        }
        payload["frames"] = [f.to_dict() for f in frames] if args.trace else None
        print_json(document("log-show", payload))
        return 0
    print(f"Session {terminal_safe(record.id)}")
    for label, text in log_format.session_detail(record, device, image):
        print(f"  {label:<15}{terminal_safe(text)}")
    print(f"\nEvents ({len(events):,})")
    print(_indent(log_format.events_table(events, record.started_at, all_events=args.all_events)))
    if notes:
        print("\nNotes")
        print(_indent("\n".join(log_format.notes_lines(notes))))
    if args.trace:
        print(f"\nTrace ({len(frames):,} frames)")
        rows = [(f.seq, f"{f.t_s:.6f}", f.direction, len(f.data), f.data.hex(" ")) for f in frames]
        print(_indent(format_table(("SEQ", "T_S", "DIR", "LEN", "BYTES"), rows, right=(0, 1, 3))))
    return 0


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.splitlines())


def export_log(args: argparse.Namespace) -> int:
    from bridgelab.data.export import write_events_csv, write_json, write_sessions_csv

    filters = _filter_from(args)
    with (
        _opened(args) as store,
        _output(args.output, store, args.force) as out,
        store.reading() as db,
    ):
        problems: list[str] = []
        if args.format == "json":
            count, what = write_json(db, out, filters, args.limit, problems=problems), "sessions"
        elif args.table == "events":
            count, what = write_events_csv(db, out, filters, args.limit), "events"
        else:
            count = write_sessions_csv(db, out, filters, args.limit, problems=problems)
            what = "sessions"
    _warn_unreadable(problems)
    if args.output:
        if args.json:
            print_json(
                document("log-export", {"file": args.output, "format": args.format, what: count})
            )
        else:
            print(f"Wrote {count:,} {what} to {args.output}.")
    return 0


@contextmanager
def _output(path: str | None, store: TriageStore, force: bool) -> Iterator[TextIO]:
    """stdout, or a new file that is never the log itself (see `bridgelab.safe_output`)."""
    if path is None:
        yield sys.stdout
        return
    with safe_output(path, triage_log(store.path), force=force, what="export file") as handle:
        yield handle


def merge_logs(args: argparse.Namespace) -> int:
    from bridgelab.data.merge import MERGE_TABLES

    with _opened(args, writes=True, create=True) as store:
        reports = [store.merge(path) for path in args.files]
    if args.json:
        print_json(document("log-merge", {"merged": [r.to_dict() for r in reports]}))
        return 0
    headers = ("FILE", *(t.upper() for t in MERGE_TABLES), "UPDATED")
    rows = [
        (r.source, *(f"+{r.added[t]:,}" for t in MERGE_TABLES), f"{sum(r.updated.values()):,}")
        for r in reports
    ]
    print(format_table(headers, rows, right=range(1, len(headers))))
    for report in reports:
        _print_refusals(report.source, report.refused, report.refusals)
    return 0


def _print_refusals(
    source: str, counts: dict[str, int], reasons: list[dict[str, str]], shown: int = 20
) -> None:
    """What a merge left out of the log, and why (the rest of the file was merged)."""
    if not counts:
        return
    summary = ", ".join(f"{n:,} {what}(s)" for what, n in counts.items())
    print(terminal_safe(f"\nRefused from {source}: {summary}; the rest was merged."))
    for item in reasons[:shown]:
        print(terminal_safe(f"  {item['what']} {item['id']}: {item['reason']}"))
    if len(reasons) > shown:
        print(f"  ... {len(reasons) - shown:,} more in --json output")


def bundle_sessions(args: argparse.Namespace) -> int:
    from bridgelab.data.bundle import write_bundle

    filters = _filter_from(args)
    with _opened(args) as store:
        if args.session:
            ids = [store.resolve_session_id(args.session)]
        else:
            ids = [r.id for r in store.query_sessions(filters, limit=args.limit)]
        if not ids:
            raise UsageError(
                "No sessions match, so there is nothing to bundle.",
                action="Give a session id, or loosen the filters.",
            )
        with store.reading() as db:
            report = write_bundle(
                db,
                ids,
                args.output,  # as typed: a trailing slash means a folder
                trace=not args.no_trace,
                force=args.force,
                guards=triage_log(store.path),
            )
    if args.json:
        print_json(document("log-bundle", report.to_dict()))
    else:
        print(f"Wrote {report.path} with {len(ids)} session(s), {len(report.files)} files.")
    return 0


def show_stats(args: argparse.Namespace) -> int:
    groups = tuple(args.by) if args.by else DEFAULT_GROUPS
    with _opened(args) as store:
        report = store.stats(_filter_from(args), by=groups)
    if args.json:
        print_json(document("log-stats", report.to_dict()))
    else:
        print(log_format.stats_text(report))
    return 0


def add_note(args: argparse.Namespace) -> int:
    with _opened(args, writes=True) as store:
        session_id = store.resolve_session_id(args.session)
        note_id = store.add_note(session_id, args.text, author=args.author)
    if args.json:
        print_json(document("log-note", {"note": note_id, "session": session_id}))
    else:
        print(f"Added note {note_id} to session {session_id}.")
    return 0
