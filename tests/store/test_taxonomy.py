"""The failure taxonomy: stable values, every class explained, docs in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from bridgelab.data import Area, FailureClass, FinalState, Stage

DOCS = Path(__file__).resolve().parents[2] / "docs" / "triage.md"

# Stored in every log already written: these values must never change.
STABLE_CLASSES = {
    "image-rejected", "port-unavailable", "no-response", "wrong-device", "device-refused",
    "link-lost", "stalled", "device-error", "hash-mismatch", "activation-failed",
    "version-unchanged", "did-not-rejoin", "unhealthy", "not-ota-capable", "orphaned",
    "not-joined", "cancelled", "interrupted", "internal-error",
}  # fmt: skip


def test_class_values_are_stable_kebab_case() -> None:
    values = {c.value for c in FailureClass}
    assert values >= STABLE_CLASSES
    for value in values:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", value), value


def test_every_class_says_what_happened_and_what_to_do() -> None:
    for cls in FailureClass:
        assert cls.title and cls.title[0].isupper()
        assert cls.explanation.endswith(".") and len(cls.explanation) > 30
        assert cls.action.endswith(".") and len(cls.action) > 15
        assert isinstance(cls.area, Area)


def test_stages_in_pipeline_order() -> None:
    assert [s.value for s in Stage] == [
        "identify", "validate", "transfer", "verify", "activate", "confirm"
    ]  # fmt: skip
    assert all(s.description for s in Stage)
    assert [s.value for s in FinalState] == [
        "running", "success", "failed", "cancelled", "interrupted"
    ]  # fmt: skip


def test_docs_list_every_class_with_its_title() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for cls in FailureClass:
        row = re.search(rf"^\| `{re.escape(cls.value)}` \| ([^|]+) \|", text, re.MULTILINE)
        assert row, f"docs/triage.md has no row for {cls.value}"
        assert row.group(1).strip() == cls.title
    for stage in Stage:
        assert f"`{stage.value}`" in text
