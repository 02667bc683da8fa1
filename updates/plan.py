"""The campaign plan's schema, checked once before anything runs.

A plan is TOML (docs/campaigns.md). Every key it may hold is one row of `CAMPAIGN_KEYS`
or `JOB_KEYS`: its name, what kind of value it takes, its default and what it means. The
check reads the whole file and reports *every* problem at once, each naming the file, the
table (`[campaign]` or `job N`), the key and the fix: an unknown key gets a "did you mean"
(difflib), a wrong type or an out-of-range number says what is allowed, a missing image or
trust folder and a report folder that cannot be written are found here, not job by job,
and two jobs on one port (which would run at once on one bridge) are refused.

To add a key, add a row: `Key("place", TEXT, doc="labgrid place to acquire")`. A rule
across keys (one of two required, ...) goes in `PLAN_RULES` or `JOB_RULES`.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridgelab.errors import UsageError
from bridgelab.updates.request import MODES

ORDER_KEYS = ("security", "priority", "version_gap", "plan")
DEFAULT_ORDER = ("security", "priority", "version_gap", "plan")
MAX_HEALTHY_S = 3600.0  # an hour of health check is already a soak, not a campaign step
MAX_LANES = 256
MAX_RETRIES = 100
MAX_JOBS = 10_000
MAX_WAIT_S = 86400.0  # a day's queue for a busy labgrid place: bounded, never endless


class PlanError(UsageError):
    """A plan that cannot run. `details["problems"]` lists every problem found."""

    code = "bad-campaign-plan"
    default_action = "Fix the plan file; docs/campaigns.md describes the format."


@dataclass(frozen=True)
class Problem:
    where: str  # "[campaign] lanes", "job 3 image", ...
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what} {self.fix}".strip()


class Invalid(Exception):
    """Raised by a `Kind` parser: what is wrong with the value, and what to write instead."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


@dataclass(frozen=True)
class Context:
    """What a value check may need besides the value: the plan's folder."""

    base: Path


@dataclass(frozen=True)
class Kind:
    """A value type: `parse` returns the checked value (or raises Invalid)."""

    name: str  # what a user reads in "must be NAME"
    parse: Callable[[Any, Context], Any]


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the flag {str(value).lower()}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value}"
    return f"{type(value).__name__} {value!r}"


def text(*, blank_ok: bool = False, max_length: int = 1000) -> Kind:
    def parse(value: Any, _: Context) -> str:
        if not isinstance(value, str):
            raise Invalid(f"is {_describe(value)}, not text.", 'Write it in quotes: "...".')
        if not blank_ok and not value.strip():
            raise Invalid("is blank.", "Give a value or leave the key out.")
        if len(value) > max_length:
            raise Invalid(f"is {len(value)} characters long.", f"Keep it under {max_length}.")
        if "\x00" in value:
            raise Invalid("holds a NUL character.", "Remove it.")
        return value

    return Kind("text", parse)


TEXT = text()


def integer(low: int, high: int) -> Kind:
    def parse(value: Any, _: Context) -> int:
        # TOML's true/false are Python bools, which are ints: refuse them explicitly.
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(
                f"is {_describe(value)}, not a whole number.",
                f"Give a number from {low} to {high}.",
            )
        if not low <= value <= high:
            raise Invalid(f"is {value}, out of range.", f"Give a number from {low} to {high}.")
        return value

    return Kind(f"a whole number from {low} to {high}", parse)


def seconds(low: float, high: float) -> Kind:
    def parse(value: Any, _: Context) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(
                f"is {_describe(value)}, not a number of seconds.", f"Give {low:g} to {high:g}."
            )
        number = float(value)
        if not math.isfinite(number):
            raise Invalid(
                f"is {value}, not a finite duration.", f"Give {low:g} to {high:g} seconds."
            )
        if not low <= number <= high:
            raise Invalid(f"is {value:g} s, out of range.", f"Give {low:g} to {high:g} seconds.")
        return number

    return Kind(f"seconds from {low:g} to {high:g}", parse)


def flag() -> Kind:
    def parse(value: Any, _: Context) -> bool:
        if not isinstance(value, bool):
            raise Invalid(
                f"is {_describe(value)}, not true or false.", "Write true or false (no quotes)."
            )
        return value

    return Kind("true or false", parse)


def choice(options: Sequence[str]) -> Kind:
    def parse(value: Any, _: Context) -> str:
        if not isinstance(value, str) or value not in options:
            raise Invalid(f"is {_describe(value)}.", f"Give one of {', '.join(options)}.")
        return value

    return Kind("one of " + ", ".join(options), parse)


def choice_list(options: Sequence[str]) -> Kind:
    def parse(value: Any, _: Context) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise Invalid(f"is {_describe(value)}, not a list.", f'Write ["{options[0]}", ...].')
        unknown = [v for v in value if not isinstance(v, str) or v not in options]
        if unknown:
            shown = ", ".join(_describe(v) for v in unknown[:3])
            raise Invalid(f"has unknown entries ({shown}).", f"Use {', '.join(options)}.")
        if len(set(value)) != len(value):
            raise Invalid("names a key twice.", "List each key once.")
        return tuple(value)

    return Kind("a list of " + ", ".join(options), parse)


def text_list(*, max_items: int = 1000) -> Kind:
    one = text()

    def parse(value: Any, ctx: Context) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise Invalid(f"is {_describe(value)}, not a list.", 'Write ["...", "..."].')
        if len(value) > max_items:
            raise Invalid(f"has {len(value)} entries.", f"Keep it to {max_items}.")
        return tuple(one.parse(item, ctx) for item in value)

    return Kind("a list of text", parse)


def _relative_path(value: Any, ctx: Context) -> Path:
    raw: str = TEXT.parse(value, ctx)
    return ctx.base / raw


def existing_file() -> Kind:
    def parse(value: Any, ctx: Context) -> Path:
        path = _relative_path(value, ctx)
        if path.is_dir():
            raise Invalid(f"names the folder {path}, not a file.", "Give the image file's path.")
        if not path.is_file():
            raise Invalid(
                f"names {path}, which does not exist.", "Fix the path (relative to the plan)."
            )
        if not os.access(path, os.R_OK):
            raise Invalid(f"names {path}, which cannot be read.", "Check its permissions.")
        return path

    return Kind("a file path", parse)


def existing_folder() -> Kind:
    def parse(value: Any, ctx: Context) -> Path:
        path = _relative_path(value, ctx)
        if not path.exists():
            raise Invalid(
                f"names {path}, which does not exist.", "Fix the path (relative to the plan)."
            )
        if not path.is_dir():
            raise Invalid(f"names {path}, which is not a folder.", "Give a folder of keys.")
        return path

    return Kind("a folder path", parse)


def writable_folder() -> Kind:
    """A folder that exists and can be written, or can be created (its nearest existing
    parent is a writable folder). Nothing is created here: the check must not change disk."""

    def parse(value: Any, ctx: Context) -> Path:
        path = _relative_path(value, ctx)
        probe = path
        while not probe.exists():
            if probe.parent == probe:
                break
            probe = probe.parent
        if not probe.is_dir():
            where = "is" if probe == path else f"lies under {probe}, which is"
            raise Invalid(f"names {path}, which {where} not a folder.", "Choose a folder path.")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise Invalid(
                f"names {path}, but {probe} cannot be written.",
                "Choose a folder you can write to, or fix its permissions.",
            )
        return path

    return Kind("a folder path that can be written", parse)


@dataclass(frozen=True)
class Key:
    name: str
    kind: Kind
    default: Any = None
    required: bool = False
    doc: str = ""


# ---------------------------------------------------------------------------------------
# The schema: one row per key. Keep docs/campaigns.md's "Plan format" in step.

CAMPAIGN_KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("name", TEXT, doc="the campaign's name (default: the plan file's name)"),
        Key("lanes", integer(1, MAX_LANES), 1, doc="updates running at once"),
        Key("retries", integer(0, MAX_RETRIES), 0, doc="extra attempts for a failed job"),
        Key("order", choice_list(ORDER_KEYS), DEFAULT_ORDER, doc="delivery order policy"),
        Key("mode", choice(MODES), "local", doc="default mode of the jobs"),
        Key("trust", existing_folder(), doc="trust store folder"),
        Key("healthy_s", seconds(0.0, MAX_HEALTHY_S), 2.0, doc="health check after each update"),
        Key("report_dir", writable_folder(), doc="where the CSV and JSON summaries go"),
        Key(
            "coordinator",
            TEXT,
            doc="labgrid coordinator host:port for jobs on places (default: LG_COORDINATOR)",
        ),
        Key(
            "wait_s",
            seconds(0.0, MAX_WAIT_S),
            0.0,
            doc="how long to queue for a labgrid place someone else holds",
        ),
    )
}

JOB_KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        # One of port, place and places (JOB_RULES): a URL, or labgrid place(s) to acquire.
        Key("port", TEXT, doc="port or URL of the bridge"),
        Key("place", TEXT, doc="a labgrid place to acquire instead of a port"),
        Key("places", TEXT, doc="a pattern of labgrid places (rack3-*): one job per place"),
        Key("image", existing_file(), required=True, doc="the image file"),
        Key("mode", choice(MODES), doc="local or ota (default: the campaign's)"),
        Key("security", flag(), False, doc="a security fix"),
        Key("priority", integer(-(2**31), 2**31 - 1), 100, doc="lower runs earlier"),
        Key("label", text(blank_ok=True), "", doc="a name for the report"),
    )
}

TOP_LEVEL = ("campaign", "job")

# Rules across keys: (values of the table, where) -> problems.
TableRule = Callable[[dict[str, Any], str], list[Problem]]
PlanRule = Callable[["CheckedPlan"], list[Problem]]


def _duplicate_ports(plan: CheckedPlan) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for number, job in enumerate(plan.jobs, start=1):
        port = job.get("port")
        if not isinstance(port, str):
            continue
        key = port.strip()
        if key in seen:
            problems.append(
                Problem(
                    f"job {number} port",
                    f"is {port!r}, the port of job {seen[key]} too: both would run on one "
                    "bridge at once.",
                    "Give each job its own port (for emu:// URLs add ?id=NAME), or put the "
                    "second image in a later campaign.",
                )
            )
        else:
            seen[key] = number
    return problems


TARGET_KEYS = ("port", "place", "places")


def _one_target(values: dict[str, Any], where: str) -> list[Problem]:
    # A key with a bad value is missing from `values` (its own problem is reported): it
    # still counts as given, so a bad port is not also reported as no port.
    given = [key for key in TARGET_KEYS if key not in values or values[key] is not None]
    if len(given) == 1:
        return []
    if not given:
        what = "has no `port` (port or URL of the bridge), `place` or `places`."
        return [Problem(where, what, "Add `port = ...` (or a labgrid `place = ...`).")]
    return [
        Problem(
            where,
            f"names {' and '.join(f'`{key}`' for key in given)}: a job runs on one of them.",
            "Keep exactly one of `port`, `place` or `places`.",
        )
    ]


JOB_RULES: list[TableRule] = [_one_target]
PLAN_RULES: list[PlanRule] = [_duplicate_ports]


# ---------------------------------------------------------------------------------------
# The check


@dataclass
class CheckedPlan:
    """The plan's values after the check: every key present, defaults filled in."""

    path: Path
    campaign: dict[str, Any]
    jobs: list[dict[str, Any]] = field(default_factory=list)


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    if close:
        return f"Did you mean `{close[0]}`?"
    return "Known keys: " + ", ".join(known) + "."


def _check_table(
    raw: Mapping[str, Any], schema: Mapping[str, Key], where: str, ctx: Context
) -> tuple[dict[str, Any], list[Problem]]:
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in raw.items():
        key = schema.get(name)
        if key is None:
            problems.append(
                Problem(f"{where} {name}", "is not a known key.", _did_you_mean(name, list(schema)))
            )
            continue
        try:
            values[name] = key.kind.parse(value, ctx)
        except Invalid as bad:
            problems.append(Problem(f"{where} {name}", bad.what, bad.fix))
    for key in schema.values():
        if key.name in values or key.name in raw:
            continue
        if key.required:
            problems.append(
                Problem(where, f"has no `{key.name}` ({key.doc}).", f"Add `{key.name} = ...`.")
            )
        else:
            values[key.name] = key.default
    return values, problems


def read_toml(path: Path) -> dict[str, Any]:
    """The plan file as TOML; a file that cannot be read or parsed is a PlanError."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        what, fix = f"No plan file at {path}.", "Check the path."
    except IsADirectoryError:
        what, fix = f"{path} is a folder, not a plan file.", "Give the .toml file."
    except UnicodeDecodeError:
        what, fix = f"{path} is not UTF-8 text.", "Save the plan as UTF-8."
    except tomllib.TOMLDecodeError as error:
        what, fix = f"{path} is not valid TOML: {error}.", "Fix the line it names."
    except OSError as error:
        what = f"Cannot read the plan {path}: {error.strerror or error}."
        fix = "Check the path and its permissions."
    raise PlanError(what, action=fix, details={"problems": [f"{what} {fix}"]})


def check_plan(path: Path) -> CheckedPlan:
    """Read and check the plan at `path`; raise one PlanError listing every problem."""
    raw = read_toml(path)
    ctx = Context(path.parent)
    problems: list[Problem] = []
    for name in raw:
        if name not in TOP_LEVEL:
            fix = _did_you_mean(name, TOP_LEVEL)
            problems.append(Problem(f"[{name}]", "is not a known table.", fix))
    head = raw.get("campaign", {})
    if not isinstance(head, dict):
        problems.append(
            Problem("campaign", f"is {_describe(head)}, not a table.", "Write it as [campaign].")
        )
        head = {}
    campaign, found = _check_table(head, CAMPAIGN_KEYS, "[campaign]", ctx)
    problems += found
    plan = CheckedPlan(path, campaign)
    raw_jobs = raw.get("job", [])
    if not isinstance(raw_jobs, list) or not all(isinstance(j, dict) for j in raw_jobs):
        problems.append(
            Problem("job", "is not a list of [[job]] tables.", "Write each job as [[job]].")
        )
        raw_jobs = []
    elif not raw_jobs:
        problems.append(Problem("plan", "lists no [[job]].", "Add a [[job]] with port and image."))
    elif len(raw_jobs) > MAX_JOBS:
        problems.append(
            Problem("plan", f"lists {len(raw_jobs)} jobs.", f"Split it into plans of {MAX_JOBS}.")
        )
        raw_jobs = []
    for number, entry in enumerate(raw_jobs, start=1):
        where = f"job {number}"
        values, found = _check_table(entry, JOB_KEYS, where, ctx)
        if values.get("mode") is None and "mode" not in entry:
            values["mode"] = campaign.get("mode", "local")
        for rule in JOB_RULES:
            found += rule(values, where)
        problems += found
        plan.jobs.append(values)
    for plan_rule in PLAN_RULES:
        problems += plan_rule(plan)
    if problems:
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise PlanError(
            f"The plan {path} has {count}; nothing was run:\n{lines}",
            details={"problems": [str(p) for p in problems]},
        )
    return plan


__all__ = [
    "CAMPAIGN_KEYS",
    "DEFAULT_ORDER",
    "JOB_KEYS",
    "JOB_RULES",
    "ORDER_KEYS",
    "PLAN_RULES",
    "CheckedPlan",
    "Key",
    "Kind",
    "PlanError",
    "Problem",
    "check_plan",
]
