"""The last word on an update, in the words the CLI prints and the GUI shows.

`update_verdict(result)` says how an `UpdateResult` ended: a tone (good, bad, neutral),
a one-line headline ("Updated 1.2.0 -> 1.3.0, rejoined HAN, healthy"), the facts behind
it and, when it did not succeed, the next step from the failure taxonomy.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridgelab.data.failures import FailureClass
from bridgelab.drivers.join_state import JoinState
from bridgelab.drivers.versions import display_version
from bridgelab.updates.durations import format_duration
from bridgelab.updates.events import UpdateResult
from bridgelab.updates.preflight import off_han_after_local


@dataclass(frozen=True)
class Verdict:
    tone: str  # "good", "bad" or "neutral" (cancelled)
    headline: str
    details: tuple[str, ...] = ()
    next_step: str = ""


def success_facts(result: UpdateResult) -> list[str]:
    """Bytes and time, line efficiency, resume point, retries, simulated OTA duration."""
    facts = [f"{result.bytes:,} bytes in {format_duration(result.duration_s)}"]
    if result.line_efficiency is not None:
        facts.append(f"{100 * result.line_efficiency:.0f} % of the line rate")
    if result.resumed_from:
        facts.append(f"resumed from byte {result.resumed_from:,}")
    if result.retries:
        facts.append(f"{result.retries} retr{'y' if result.retries == 1 else 'ies'}")
    if result.simulated_duration_s is not None:
        predicted = result.predicted_ota_duration_s
        facts.append(
            f"the real OTA would take {format_duration(result.simulated_duration_s)}"
            + (f" (predicted {format_duration(predicted)})" if predicted is not None else "")
        )
    return facts


def _join_state(label: str | None) -> JoinState | None:
    return next((state for state in JoinState if state.label == label), None)


def update_verdict(result: UpdateResult, *, arrow: str = "->") -> Verdict:
    """How the update ended; `arrow` joins the versions ("→" where Unicode is safe)."""
    if result.ok:
        headline = (
            f"Updated {display_version(result.version_before)} {arrow} "
            f"{display_version(result.version_after)}"
            + (", rejoined HAN" if result.rejoined else "")
            + ", healthy"
        )
        off_han = off_han_after_local(_join_state(result.join_state))
        if off_han is not None:
            # Updated, but the bridge is no more on the HAN than before: say so, and who
            # can put it back.
            title, next_step = off_han
            return Verdict(
                "good",
                f"{headline}; still off the HAN ({title})",
                tuple(success_facts(result)),
                next_step,
            )
        return Verdict("good", headline, tuple(success_facts(result)))
    try:
        cls: FailureClass | None = FailureClass(result.result)
    except ValueError:
        cls = None
    message = str((result.error or {}).get("message") or "")
    stage = result.failure_stage or "start"
    if cls is FailureClass.CANCELLED:
        done = f" after {result.bytes:,} bytes" if result.bytes else ""
        return Verdict(
            "neutral",
            f"Cancelled during {stage}{done}",
            (),
            "Start again to resume: the bridge keeps what it received and continues from there.",
        )
    error = result.error or {}
    # The failure's own next step (the pre-flight's "update it locally", a layer's action)
    # is more precise than the class's; it is said once, as the next step.
    action = str(error.get("action") or "") or (cls.action if cls is not None else "")
    if action and message.endswith(action):
        message = message[: -len(action)].strip()
    # What happened: the failure's own words; the class's general explanation only when
    # there are none.
    details: tuple[str, ...] = (message,) if message else ()
    if not details and cls is not None:
        details = (cls.explanation,)
    title = cls.title if cls is not None else result.result
    return Verdict("bad", f"Update failed at {stage}: {title}", details, action)
