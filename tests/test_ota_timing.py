"""The closed-form OTA duration against the simulated client it predicts."""

from __future__ import annotations

import random

import pytest

from bridgelab.virtual_clock import VirtualClock
from bridgelab.zigbee.ota_client import OtaClientConfig, OtaOutcome
from bridgelab.zigbee.ota_timing import (
    OtaModelSettingError,
    exchange_loss_rate,
    expected_exchange_s,
    predict_ota_duration,
)
from tests.ota_image_server import simulate_upgrade


def simulate(image_size: int, config: OtaClientConfig, server_block_size: int) -> float:
    image = random.Random(image_size).randbytes(image_size)
    client, _ = simulate_upgrade(image, config=config, block_size=server_block_size)
    assert client.outcome is OtaOutcome.UPGRADED
    return client.clock.now_s


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("image_size", "block"), [(30_000, 63), (120_000, 40), (250_000, 63)])
def test_loss_free_prediction_within_5_percent(seed: int, image_size: int, block: int) -> None:
    config = OtaClientConfig(seed=seed)
    simulated = simulate(image_size, config, block)
    predicted = config.predict_duration_s(image_size, server_block_size=block)
    assert simulated == pytest.approx(predicted, rel=0.05)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("image_size", "request_loss", "response_loss", "period"),
    [(30_000, 0.05, 0.0, 0), (120_000, 0.0, 0.05, 0), (120_000, 0.0253, 0.0253, 100)],
)
def test_prediction_at_5_percent_loss_within_15_percent(
    seed: int, image_size: int, request_loss: float, response_loss: float, period: int
) -> None:
    config = OtaClientConfig(
        seed=seed,
        request_loss_rate=request_loss,
        response_loss_rate=response_loss,
        minimum_block_period=period,
    )
    assert config.exchange_loss_rate == pytest.approx(0.05, abs=0.001)
    simulated = simulate(image_size, config, 63)
    predicted = config.predict_duration_s(image_size, server_block_size=63)
    assert simulated == pytest.approx(predicted, rel=0.15)


def test_formula_by_hand() -> None:
    # 1,000 bytes in 63-byte blocks: 16 blocks, 18 exchanges of 0.5 s, 15 periods of 1 s.
    assert predict_ota_duration(
        1_000, block_size=63, round_trip_s=0.5, block_period_s=1.0, verify_time_s=5.0
    ) == pytest.approx(18 * 0.5 + 15 * 1.0 + 5.0)
    # At 20 % loss an exchange costs 0.5 + 0.25 * 3 s on average.
    assert expected_exchange_s(0.5, 0.2, 3.0) == pytest.approx(1.25)
    assert exchange_loss_rate(0.1, 0.1) == pytest.approx(0.19)


def test_headline_figures() -> None:
    # Domain notes: 170-375 KB at one 40-63 byte block per 0.25-0.85 s takes 1-2 hours.
    assert predict_ota_duration(375_000, block_size=40, round_trip_s=0.55) / 3600 == (
        pytest.approx(1.43, abs=0.01)
    )
    assert predict_ota_duration(170_000, block_size=40, round_trip_s=0.85) / 3600 == (
        pytest.approx(1.0, abs=0.01)
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"image_size": 0, "block_size": 63, "round_trip_s": 0.5},
        {"image_size": 10, "block_size": 0, "round_trip_s": 0.5},
        {"image_size": 10, "block_size": 63, "round_trip_s": -1.0},
        {"image_size": 10, "block_size": 63, "round_trip_s": 0.5, "loss_rate": 1.0},
        {"image_size": 10, "block_size": 63, "round_trip_s": float("nan")},
    ],
)
def test_impossible_inputs(kwargs: dict[str, float]) -> None:
    with pytest.raises(OtaModelSettingError):
        predict_ota_duration(**kwargs)  # type: ignore[arg-type]


def test_virtual_clock_only_moves_forward() -> None:
    clock = VirtualClock(10.0)
    assert clock.advance(2.5) == 12.5
    assert clock.advance_to(11.0) == 12.5
    assert clock.advance_to(20.0) == 20.0
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            clock.advance(bad)
