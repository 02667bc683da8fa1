"""The whole pre-flight check of an image: every finding, not just the first.

`assess_image` is what the update engine runs before a single byte goes to a bridge and
what the GUI shows: the header summary, the Manufacturer Image hash, the signer, the
compatibility verdict and a list of findings (code, severity, message, action). A report
is `ok` when no finding is an error; `raise_first()` turns it back into the exception of
the first error for callers that stop at the first problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bridgelab.firmware.compat import (
    CompatibilityReport,
    DeviceIdentity,
    DowngradeOverride,
    check_compatibility,
    compatibility_problems,
)
from bridgelab.firmware.digest import manufacturer_image_sha256
from bridgelab.firmware.errors import FirmwareError, GblFormatError, SignatureError, hex_id
from bridgelab.firmware.image import OtaImage, load_image
from bridgelab.firmware.signing import SIGNATURE_ALGORITHM
from bridgelab.firmware.trust import SignatureReport, TrustStore, verify_signature
from bridgelab.versions import version_text


class Severity(StrEnum):
    ERROR = "error"  # the image must not be sent
    WARNING = "warning"  # it may be sent, but someone should know
    INFO = "info"  # a fact worth recording


# Findings that are not failures: their codes, kept here so docs and tests can list them.
NOTE_ACTIONS: dict[str, str] = {
    "signature-verified": "",
    "signature-not-checked": "Verify the image against a trust store before sending it.",
    "compatibility-not-checked": "Check the image against the device before sending it.",
    "downgrade-allowed": "The downgrade and its reason are recorded with the attempt.",
    "wildcard-image-type": "",
    "wildcard-file-version": "",
    # How a file that is not plain standard was read (bridgelab.firmware.image notes).
    "container-unwrapped": "",
    "vendor-layout": "",
    "reserved-tag": "",
    "inner-image": "",
    "firmware-element": "",
    "trailing-bytes": "Check with the vendor what the extra bytes are; --strict refuses such a "
    "file.",
    "firmware-element-guessed": "Check with the vendor which element is the firmware before "
    "relying on the Manufacturer Image hash.",
}


@dataclass(frozen=True)
class Finding:
    """One thing the check found; `error` keeps the exception of an error finding."""

    code: str
    severity: Severity
    message: str
    action: str = ""
    error: FirmwareError | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_error(cls, error: FirmwareError) -> Finding:
        return cls(error.code, Severity.ERROR, error.message, error.action, error)

    @classmethod
    def note(cls, code: str, severity: Severity, message: str) -> Finding:
        return cls(code, severity, message, NOTE_ACTIONS[code])

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "action": self.action,
        }


def describe_image(image: OtaImage, *, sha256: bytes | None = None) -> dict[str, Any]:
    """Every header field and the body's shape, as JSON-ready values (integers, not hex).

    `file_size` is the file as given, `ota_file_size` the OTA file a device receives
    (smaller when a container wraps it or bytes follow its total image size).
    """
    header = image.header
    signature_offset = image.signature_offset
    chosen = image.firmware_element
    return {
        "file_size": image.source_size or len(image.raw),
        "ota_file_size": len(image.raw),
        "header_version": header.header_version,
        "header_length": header.header_length,
        "field_control": header.field_control,
        "manufacturer_code": header.manufacturer_code,
        "image_type": header.image_type,
        "file_version": header.file_version,
        "stack_version": header.stack_version,
        "header_string": header.header_text,
        "total_image_size": header.total_image_size,
        "security_credential_version": header.security_credential_version,
        "destination_eui64": header.destination_eui64,
        "min_hw_version": header.min_hw_version,
        "max_hw_version": header.max_hw_version,
        "body_form": str(image.body_form),
        "form_evidence": image.form_evidence,
        "form_given": image.form_given,
        "container": image.container.to_dict() if image.container is not None else None,
        "trailing": image.trailing.to_dict() if image.trailing is not None else None,
        "sub_elements": [item.to_dict() for item in image.sub_elements],
        "firmware_element": None
        if chosen is None
        else {"tag": chosen.tag, "offset": chosen.offset, "length": chosen.length},
        "firmware_note": image.firmware_note,
        "inner_image": image.inner.to_dict() if image.inner is not None else None,
        "inner_image_problem": image.inner_problem.to_dict()
        if image.inner_problem is not None
        else None,
        "notes": [note.to_dict() for note in image.notes],
        "manufacturer_image_offset": image.manufacturer_image_offset,
        "manufacturer_image_size": image.manufacturer_image_size,
        "manufacturer_image_sha256": (sha256 or manufacturer_image_sha256(image)).hex(),
        "signature": {
            "present": image.signature is not None,
            "algorithm": SIGNATURE_ALGORITHM if image.signature is not None else None,
            "offset": signature_offset,
            "covers_bytes": [0, signature_offset] if signature_offset is not None else None,
        },
    }


READING_LABELS = ("Container", "Form evidence", "Firmware element", "Trailing bytes", "Inner image")


def reading_facts(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """How the file was read, as (label, text) rows: the same words for `image inspect`
    and the GUI's report. `summary` is what `describe_image` returns."""
    trailing = summary.get("trailing")
    evidence = "named with --form" if summary.get("form_given") else summary.get("form_evidence")
    return [
        ("Container", _container_text(summary.get("container"))),
        ("Form evidence", str(evidence or "-")),
        ("Firmware element", str(summary.get("firmware_note") or "-")),
        ("Trailing bytes", "none" if trailing is None else str(trailing["description"])),
        (
            "Inner image",
            _inner_text(summary.get("inner_image"), summary.get("inner_image_problem")),
        ),
    ]


def _container_text(container: dict[str, Any] | None) -> str:
    if container is None:
        return "none"
    return (
        f"{container['name']}: an OTA file of {container['inner_size']:,} bytes at offset "
        f"{container['inner_offset']} ({container['evidence']})"
    )


def _inner_text(inner: dict[str, Any] | None, problem: dict[str, Any] | None) -> str:
    if problem is not None:
        return f"DAMAGED [{problem['code']}] {problem['message']}"
    if inner is None:
        return "not a Silicon Labs GBL/EBL file"
    names = ", ".join(dict.fromkeys(str(tag["name"]) for tag in inner["tags"]))
    app = inner["application"]
    version = f"application version {hex_id(app['version'], 8)}; " if app is not None else ""
    flags = ("signed" if inner["signed"] else "not signed") + ", "
    flags += "encrypted" if inner["encrypted"] else "not encrypted"
    crc = (
        "CRC-32 correct"
        if inner["crc_ok"]
        else f"CRC-32 WRONG (end tag {hex_id(inner['crc_stored'], 8)}, bytes give "
        f"{hex_id(inner['crc_computed'], 8)})"
    )
    padding = f"; {inner['padding']} bytes of 0xFF padding" if inner["padding"] else ""
    return (
        f"{str(inner['format']).upper()}, {len(inner['tags'])} tags ({names}); {version}"
        f"{flags}; {crc}{padding}"
    )


@dataclass(frozen=True)
class VerificationReport:
    """Everything `assess_image` found; JSON-ready through `to_dict()`."""

    summary: dict[str, Any] = field(repr=False)
    manufacturer_image_sha256: bytes
    signer: SignatureReport | None
    signature_status: str
    compatibility: CompatibilityReport | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(item for item in self.findings if item.severity is Severity.ERROR)

    def raise_first(self) -> None:
        """Raise the first error finding's exception; return quietly when `ok`."""
        if self.errors:
            first = self.errors[0]
            raise first.error or FirmwareError(first.message, action=first.action)

    def to_dict(self) -> dict[str, Any]:
        image = dict(self.summary)
        image["signature"] = {
            **image["signature"],
            "status": self.signature_status,
            "signer": self.signer.to_dict() if self.signer is not None else None,
        }
        return {
            "ok": self.ok,
            "image": image,
            "compatibility": (
                self.compatibility.to_dict() if self.compatibility is not None else None
            ),
            "findings": [item.to_dict() for item in self.findings],
        }


def signature_findings(
    image: OtaImage, trust: TrustStore | None
) -> tuple[SignatureReport | None, str, list[Finding]]:
    """The signer (or None), the signature status code, and the findings about it.

    The status is `verified`, `not-checked` (no trust store given) or the SignatureError
    code (unsigned, signer-unknown, signer-revoked, signature-invalid).
    """
    if trust is None:
        note = Finding.note(
            "signature-not-checked",
            Severity.WARNING,
            "The signature was not checked: no trust store was given.",
        )
        return None, "not-checked", [note]
    try:
        signer = verify_signature(image, trust)
    except SignatureError as error:
        return None, error.code, [Finding.from_error(error)]
    label = f" ({signer.label})" if signer.label else ""
    note = Finding.note(
        "signature-verified",
        Severity.INFO,
        f"Signed by trusted key {signer.key_id[:16]}...{label} for manufacturer "
        f"{hex_id(signer.manufacturer_code)}.",
    )
    return signer, "verified", [note]


def assess_image(
    image: OtaImage,
    trust: TrustStore | None,
    device: DeviceIdentity | None = None,
    override: DowngradeOverride | None = None,
) -> VerificationReport:
    """Check signature and (when `device` is given) compatibility; never raises for findings.

    Findings come in a fixed order: how the file was read (`reading_findings`: its
    notes, and an error for a damaged inner GBL/EBL file), the signature's, then the
    compatibility rules in the order of `bridgelab.firmware.compat`. With `trust` None
    the signature is reported as not checked (a warning), so the report is only `ok` for
    a caller that chose to skip it.
    """
    digest = manufacturer_image_sha256(image)
    findings = reading_findings(image)
    signer, status, signature_notes = signature_findings(image, trust)
    findings += signature_notes
    compatibility: CompatibilityReport | None = None
    if device is None:
        findings.append(
            Finding.note(
                "compatibility-not-checked",
                Severity.INFO,
                "No device was given, so compatibility was not checked.",
            )
        )
    else:
        problems = compatibility_problems(image, device, override)
        findings += [Finding.from_error(problem) for problem in problems]
        if not problems:
            compatibility = check_compatibility(image, device, override)
            findings += _compatibility_notes(compatibility)
    return VerificationReport(
        summary=describe_image(image, sha256=digest),
        manufacturer_image_sha256=digest,
        signer=signer,
        signature_status=status,
        compatibility=compatibility,
        findings=tuple(findings),
    )


def reading_findings(image: OtaImage) -> list[Finding]:
    """How the file was read (its notes), and an error for a damaged inner GBL/EBL file.

    A GBL/EBL upgrade image whose own CRC-32 is wrong, or that cannot be read as the
    GBL/EBL it starts as, is an error: it must be refused before a byte is sent.
    """
    findings = [
        Finding.note(note.code, Severity(note.severity), note.message) for note in image.notes
    ]
    problem: GblFormatError | None = image.inner_problem
    if problem is None and image.inner is not None and not image.inner.crc_ok:
        try:
            image.inner.require_valid_crc()
        except GblFormatError as error:
            problem = error
    if problem is not None:
        findings.append(Finding.from_error(problem))
    return findings


def _compatibility_notes(report: CompatibilityReport) -> list[Finding]:
    notes: list[Finding] = []
    if report.downgrade_reason is not None:
        notes.append(
            Finding.note(
                "downgrade-allowed",
                Severity.WARNING,
                f"Downgrade from {version_text(report.device.file_version)} to "
                f"{version_text(report.image_file_version)} allowed: {report.downgrade_reason}",
            )
        )
    if report.wildcard_image_type:
        notes.append(
            Finding.note(
                "wildcard-image-type",
                Severity.INFO,
                "The image's type is the wildcard 0xFFFF: it matches any image type.",
            )
        )
    if report.wildcard_file_version:
        notes.append(
            Finding.note(
                "wildcard-file-version",
                Severity.INFO,
                "The image's file version is the wildcard 0xFFFFFFFF: it is offered "
                "whatever version the device runs.",
            )
        )
    return notes


def assess_file(
    path: str | os.PathLike[str],
    trust: TrustStore | None,
    device: DeviceIdentity | None = None,
    override: DowngradeOverride | None = None,
) -> VerificationReport:
    """Load then assess; file and format problems raise (there is no image to report on)."""
    return assess_image(load_image(path), trust, device, override)
