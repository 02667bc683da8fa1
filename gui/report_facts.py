"""The verification report's wording: an `Preflight` as a verdict and facts.

Pure functions (no Qt): the update view places the text, the tests read it.
"""

from __future__ import annotations

from bridgelab.drivers.versions import display_version
from bridgelab.firmware.verify import READING_LABELS, reading_facts
from bridgelab.gui.formatting import ARROW, format_size, hardware_version, hex_code
from bridgelab.gui.theme import Tone
from bridgelab.updates.durations import format_duration
from bridgelab.updates.preflight import Preflight

IMAGE_LABELS = (
    "File",
    "File version",
    "Manufacturer",
    "Image type",
    "Hardware",
    "Size",
    "Header string",
    "Body form",
    *READING_LABELS,
    "Image SHA-256",
)
SIGNER_LABELS = ("Signature", "Signed by", "Trusted keys")
BRIDGE_LABELS = ("Bridge runs", "This image", "Real OTA would take")

SIGNATURE_WORDS = {
    "verified": "verified",
    "not-checked": "NOT CHECKED (no trust store)",
    "unsigned": "MISSING (the image is not signed)",
    "signer-unknown": "signed by a key the trust store does not hold",
    "signer-revoked": "signed by a REVOKED key",
    "signature-invalid": "INVALID (the image changed after signing)",
}


def report_verdict(assessment: Preflight) -> tuple[Tone, str, str]:
    """(tone, headline, next step) for the top of the report."""
    report = assessment.report
    if assessment.device is None:
        return (
            Tone.WARN,
            "Checked without a bridge",
            "Connect to the bridge to check the image against it before sending.",
        )
    if assessment.needs_downgrade_reason:
        return (
            Tone.WARN,
            f"Downgrade: {display_version(assessment.device.file_version)} {ARROW} "
            f"{display_version(assessment.file_version)}",
            "Only send an older image on purpose: press Allow downgrade and say why.",
        )
    if {f.code for f in report.errors} == {"same-version"}:
        return (
            Tone.GOOD,
            f"The bridge already runs {display_version(assessment.file_version)}",
            "Nothing to send: this image is the running firmware.",
        )
    if not report.ok:
        first = report.errors[0]
        return Tone.BAD, f"Refused: {first.message}", first.action
    if assessment.trust_problem is not None:
        return Tone.BAD, "Signature cannot be checked", assessment.trust_problem.action
    if assessment.override is not None:
        return (
            Tone.WARN,
            "Downgrade allowed: ready to send",
            f"Reason recorded with the attempt: {assessment.override.reason}",
        )
    if assessment.verdict("ota").mode_refusal is not None:
        return Tone.GOOD, "Ready to send locally", "Start a local update (OTA cannot reach it)."
    return Tone.GOOD, "Ready to send to this bridge", "Choose local update or simulated OTA."


def image_facts(assessment: Preflight) -> list[tuple[str, str]]:
    summary = assessment.report.summary
    low, high = summary.get("min_hw_version"), summary.get("max_hw_version")
    hardware = (
        f"{hardware_version(low)} to {hardware_version(high)}"
        if low is not None and high is not None
        else "any"
    )
    sha = str(summary.get("manufacturer_image_sha256", ""))
    return [
        ("File", assessment.path.name),
        ("File version", f"{display_version(assessment.file_version)}  "
                         f"({hex_code(assessment.file_version, 8)})"),
        ("Manufacturer", hex_code(summary.get("manufacturer_code"))),
        ("Image type", hex_code(summary.get("image_type"))),
        ("Hardware", hardware),
        ("Size", f"{format_size(assessment.image_size)} ({assessment.image_size:,} bytes)"),
        ("Header string", str(summary.get("header_string") or "-")),
        ("Body form", str(summary.get("body_form", "-"))),
        *reading_facts(summary),
        ("Image SHA-256", f"{sha[:16]}\u2026{sha[-8:]}" if len(sha) > 24 else sha or "-"),
    ]  # fmt: skip


def signer_facts(assessment: Preflight) -> list[tuple[str, str]]:
    report = assessment.report
    signer = report.signer
    signed_by = "-"
    if signer is not None:
        label = f" ({signer.label})" if signer.label else ""
        signed_by = f"key {signer.key_id[:16]}\u2026{label}, manufacturer " + hex_code(
            signer.manufacturer_code
        )
    status = SIGNATURE_WORDS.get(report.signature_status, report.signature_status)
    return [
        ("Signature", status),
        ("Signed by", signed_by),
        ("Trusted keys", assessment.trust_source),
    ]


def bridge_facts(assessment: Preflight) -> list[tuple[str, str]]:
    device = assessment.device
    running = display_version(device.file_version) if device is not None else "not connected"
    if device is None:
        relation = "-"
    elif assessment.is_downgrade:
        relation = "OLDER than the running firmware (a downgrade)"
    elif assessment.file_version == device.file_version:
        relation = "the version the bridge already runs"
    else:
        relation = "newer than the running firmware"
    return [
        ("Bridge runs", running),
        ("This image", f"{display_version(assessment.file_version)}: {relation}"),
        ("Real OTA would take", ota_duration_text(assessment)),
    ]


def ota_duration_text(assessment: Preflight) -> str:
    """The predicted real OTA time, or why there is none for this bridge."""
    if assessment.verdict("ota").mode_refusal is not None:
        return "no OTA for this bridge"
    return f"about {format_duration(assessment.predicted_ota_s)}"


def finding_lines(assessment: Preflight) -> list[tuple[str, str]]:
    """(severity, "message  Next step: action") for every finding, errors first."""
    order = {"error": 0, "warning": 1, "info": 2}
    lines = []
    for finding in sorted(assessment.report.findings, key=lambda f: order[str(f.severity)]):
        text = finding.message + (f"  \u2192 {finding.action}" if finding.action else "")
        # Already running this image is the goal reached, not a fault to flag in red.
        severity = "neutral" if finding.code == "same-version" else str(finding.severity)
        lines.append((severity, text))
    for reason in assessment.verdict("local").own:  # e.g. it stays off the HAN afterwards
        lines.append(
            (
                reason.severity,
                reason.message + (f"  \u2192 {reason.action}" if reason.action else ""),
            )
        )
    return lines
