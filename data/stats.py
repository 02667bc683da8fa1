"""Failure rates for triage: by firmware version, device model, failure class, site...

The failure rate of a group is `(failed + interrupted) / (success + failed +
interrupted)`: cancelled sessions were stopped by a person and running ones have no
outcome yet, so neither counts either way (both are still shown).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from bridgelab.data.errors import BadFilter
from bridgelab.data.queries import where_clause
from bridgelab.data.records import SessionFilter

if TYPE_CHECKING:  # sqlite_utils loads only when a store opens
    from sqlite_utils import Database

# Group name -> the SQL expression it groups by (over sessions s, devices d, images i).
GROUPS: dict[str, str] = {
    "firmware": "i.file_version",
    "from-version": "s.version_before",
    "model": "d.model",
    "hardware": "d.hardware_version",
    "failure-class": "s.failure_class",
    "stage": "s.failure_stage",
    "site": "s.site_ref",
    "mode": "s.mode",
    "host": "s.host",
}
DEFAULT_GROUPS: tuple[str, ...] = ("firmware", "model", "failure-class", "site")
# Groups that describe failures only: sessions without a failure are left out of them.
FAILURE_GROUPS = frozenset({"failure-class", "stage"})

_FROM = (
    "FROM sessions AS s LEFT JOIN devices AS d ON d.eui64 = s.device_eui64 "
    "LEFT JOIN images AS i ON i.sha256 = s.image_sha256"
)
_COUNTS = (
    "count(*), sum(s.final_state = 'success'), sum(s.final_state = 'failed'), "
    "sum(s.final_state = 'cancelled'), sum(s.final_state = 'interrupted'), "
    "sum(s.final_state = 'running')"
)


@dataclass(frozen=True)
class StatsRow:
    """Counts for one group value (`key` None: the value was not recorded)."""

    key: str | int | None
    sessions: int
    success: int
    failed: int
    cancelled: int
    interrupted: int
    running: int

    @property
    def failures(self) -> int:
        return self.failed + self.interrupted

    @property
    def failure_rate(self) -> float | None:
        decided = self.success + self.failures
        return self.failures / decided if decided else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failures": self.failures, "failure_rate": self.failure_rate}


@dataclass(frozen=True)
class StatsReport:
    total: StatsRow
    groups: dict[str, list[StatsRow]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.to_dict(),
            "groups": {name: [row.to_dict() for row in rows] for name, rows in self.groups.items()},
        }


def _row(key: str | int | None, counts: tuple[Any, ...]) -> StatsRow:
    return StatsRow(key, *(int(value or 0) for value in counts))


def compute_stats(
    db: Database, filters: SessionFilter | None = None, by: tuple[str, ...] = DEFAULT_GROUPS
) -> StatsReport:
    """Count the filtered sessions by outcome, overall and for each group in `by`.

    Groups come most sessions first. Raises `BadFilter` for an unknown group name.
    """
    unknown = [name for name in by if name not in GROUPS]
    if unknown:
        raise BadFilter(
            f"{', '.join(unknown)} is not a statistics group.",
            action=f"Use one of: {', '.join(GROUPS)}.",
        )
    where, params = where_clause(filters)
    total = _row(None, db.execute(f"SELECT {_COUNTS} {_FROM}{where}", params).fetchone())
    groups: dict[str, list[StatsRow]] = {}
    for name in by:
        expression = GROUPS[name]
        clause = where
        if name in FAILURE_GROUPS:
            clause += (" AND " if where else " WHERE ") + "s.failure_class IS NOT NULL"
        rows = db.execute(
            f"SELECT {expression} AS key, {_COUNTS} {_FROM}{clause} "
            "GROUP BY key ORDER BY count(*) DESC, key",
            params,
        ).fetchall()
        groups[name] = [_row(row[0], tuple(row[1:])) for row in rows]
    return StatsReport(total, groups)
