"""Property: any plan file at all ends in a checked plan or a coded PlanError, never an
internal error, and an accepted plan holds only bounded, finite values (so it cannot hang).

Plans are generated from the schema's own keys, near-miss spellings and random names,
with values of every TOML type (inf and nan included), jobs that share ports, paths that
exist and ones that do not, and now and then raw bytes that are not TOML at all.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.updates.campaign import CampaignPlan, load_plan
from bridgelab.updates.plan import (
    CAMPAIGN_KEYS,
    JOB_KEYS,
    MAX_HEALTHY_S,
    MAX_LANES,
    MAX_RETRIES,
    ORDER_KEYS,
    PlanError,
)

PLANS = 1000


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["new.ota", "keys", "reports", "nope.ota", "new.ota/x", "", " ", "local", "ota"]
    ),
)
values = st.one_of(
    scalars,
    st.lists(st.one_of(st.sampled_from(ORDER_KEYS), scalars), max_size=5),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
)


def near_misses(names: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(names).flatmap(
        lambda name: st.sampled_from(
            [name, name[:-1], name + "s", name.upper(), name.replace("_", "-"), name[1:] or "x"]
        )
    )


def table(
    names: list[str],
    good: dict[str, st.SearchStrategy[Any]],
    required: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly well-formed tables (so that plans get accepted too), with noise now and then."""
    keys = st.one_of(st.sampled_from(names), near_misses(names), st.text(min_size=1, max_size=8))
    good_values = st.fixed_dictionaries(required or {}, optional=good)
    noisy = st.one_of(st.just({}), st.just({}), st.dictionaries(keys, values, max_size=3))
    return st.tuples(good_values, noisy).map(lambda pair: {**pair[0], **pair[1]})


CAMPAIGN_GOOD: dict[str, st.SearchStrategy[Any]] = {
    "lanes": st.integers(min_value=1, max_value=8),
    "retries": st.integers(min_value=0, max_value=3),
    "healthy_s": st.floats(min_value=0, max_value=10),
    "mode": st.sampled_from(["local", "ota"]),
    "trust": st.just("keys"),
    "report_dir": st.just("reports"),
    "order": st.permutations(list(ORDER_KEYS)),
}
JOB_REQUIRED: dict[str, st.SearchStrategy[Any]] = {
    "port": st.integers(0, 30).map(lambda n: f"emu://demo?id=bay-{n}"),
    "image": st.just("new.ota"),
}
JOB_GOOD: dict[str, st.SearchStrategy[Any]] = {
    "label": st.text(max_size=10),
    "priority": st.integers(min_value=0, max_value=200),
    "security": st.booleans(),
}


@st.composite
def plan_texts(draw: st.DrawFn) -> str | bytes:
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=60))  # not TOML, maybe not even text
    lines: list[str] = []
    if draw(st.booleans()):
        head = draw(table(list(CAMPAIGN_KEYS), CAMPAIGN_GOOD))
        lines.append("[campaign]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in head.items()]
    if draw(st.integers(0, 9)) == 0:
        lines.append(f"job = {toml_value(draw(values))}")
    else:
        for job in draw(st.lists(table(list(JOB_KEYS), JOB_GOOD, JOB_REQUIRED), max_size=4)):
            lines.append("[[job]]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in job.items()]
    if draw(st.integers(0, 9)) == 0:
        lines.append(f"[{draw(near_misses(['campaign', 'job']))}]")
    return "\n".join(lines) + "\n"


def check_accepted(plan: CampaignPlan, folder: Path) -> None:
    assert 1 <= plan.lanes <= MAX_LANES
    assert 0 <= plan.retries <= MAX_RETRIES
    assert math.isfinite(plan.healthy_s) and 0 <= plan.healthy_s <= MAX_HEALTHY_S
    assert plan.policy.healthy_s == plan.healthy_s
    assert set(plan.order) <= set(ORDER_KEYS) and len(set(plan.order)) == len(plan.order)
    assert plan.trust is None or plan.trust.is_dir()
    assert plan.jobs
    ports = [job.port.strip() for job in plan.jobs]
    assert len(set(ports)) == len(ports)
    for job in plan.jobs:
        assert job.image.is_file() and job.mode in ("local", "ota")
        assert isinstance(job.priority, int) and not isinstance(job.priority, bool)
        assert isinstance(job.security, bool)


_seen = {"accepted": 0, "refused": 0}


@settings(
    max_examples=PLANS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
@given(plan_texts())
def test_any_plan_ends_checked_or_in_a_coded_refusal(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "new.ota").write_bytes(DEMO_IMAGES[0].path.read_bytes()[:200])
        (folder / "keys").mkdir()
        path = folder / "plan.toml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        try:
            plan = load_plan(path)
        except PlanError as error:
            assert error.code == "bad-campaign-plan"
            assert str(path) in error.message
            assert error.details["problems"]
            _seen["refused"] += 1
            return
        check_accepted(plan, folder)
        _seen["accepted"] += 1


def test_the_generator_reaches_both_endings() -> None:
    """A property that only ever saw refusals would test nothing: both endings occurred."""
    if sum(_seen.values()) < PLANS:
        test_any_plan_ends_checked_or_in_a_coded_refusal()
    assert sum(_seen.values()) >= PLANS
    assert _seen["accepted"] >= 20 and _seen["refused"] >= 200, _seen
