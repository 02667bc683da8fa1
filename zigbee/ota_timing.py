"""How long a ZigBee OTA download takes: the closed-form twin of the OTA client model.

`predict_ota_duration` gives the expected seconds from the client's Query Next Image
Request to the moment it activates the new image, for the same radio model the
simulated client (`bridgelab.zigbee.ota_client`) runs:

- one exchange for the query, one per block, one for the Upgrade End Request;
- an exchange that gets through costs one round trip; one that fails (request or response
  lost) costs the request timeout, then the request is sent again. With per-exchange loss
  probability p, an exchange costs on average `round_trip + p / (1 - p) * timeout`;
- the client waits the minimum block period after each block before asking for the next;
- after the last block it verifies the image (`verify_time_s`), and after the Upgrade End
  Response it may count down (`countdown_s`) before activating.

The prediction ignores the rare download a client abandons after too many failed retries.
The defaults below are the model's documented choices (not vendor facts): real clients
vary, which is why every one of them is a setting.
"""

from __future__ import annotations

import math

from bridgelab.errors import BridgeLabError

# Silicon Labs clients accept at most 63 data bytes per block (domain notes, section 3).
MAX_DATA_SIZE_LIMIT = 63
DEFAULT_MAX_DATA_SIZE = 63
# Observed one block per ~0.25-0.85 s over the air (domain notes, section 3).
DEFAULT_ROUND_TRIP_S = (0.25, 0.85)
DEFAULT_REQUEST_TIMEOUT_S = 3.0
DEFAULT_MAX_RETRIES = 10
# Clients verify for up to ~30 s after the last block; a few seconds is typical.
DEFAULT_VERIFY_TIME_S = 5.0
# Clients wait at most an hour between re-queries.
DEFAULT_MAX_REQUERY_WAIT_S = 3600.0


class OtaModelSettingError(BridgeLabError):
    """A setting of the OTA timing model or client model that cannot be simulated."""

    code = "ota-model-bad-setting"
    default_action = "Correct the setting (see the OTA model's documentation for ranges)."


def exchange_loss_rate(request_loss_rate: float, response_loss_rate: float) -> float:
    """Probability that one exchange fails when either leg can be lost independently."""
    return 1.0 - (1.0 - request_loss_rate) * (1.0 - response_loss_rate)


def expected_exchange_s(round_trip_s: float, loss_rate: float, request_timeout_s: float) -> float:
    """Mean seconds one request/response exchange costs, retries included."""
    if not 0.0 <= loss_rate < 1.0:
        raise OtaModelSettingError(f"A loss rate is a probability below 1, not {loss_rate!r}.")
    return round_trip_s + loss_rate / (1.0 - loss_rate) * request_timeout_s


def predict_ota_duration(
    image_size: int,
    *,
    block_size: int,
    round_trip_s: float,
    block_period_s: float = 0.0,
    loss_rate: float = 0.0,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    verify_time_s: float = DEFAULT_VERIFY_TIME_S,
    countdown_s: float = 0.0,
) -> float:
    """Expected seconds of a whole over-the-air upgrade of an `image_size`-byte OTA file.

    `block_size` is the data bytes per block actually sent (the smaller of what the client
    asks for and what the server sends); `round_trip_s` the mean round trip of one
    exchange; `loss_rate` the probability that an exchange fails (see
    `exchange_loss_rate`). Raises `OtaModelSettingError` for impossible inputs.
    """
    numbers = {
        "round_trip_s": round_trip_s,
        "block_period_s": block_period_s,
        "request_timeout_s": request_timeout_s,
        "verify_time_s": verify_time_s,
        "countdown_s": countdown_s,
    }
    for name, value in numbers.items():
        if not (math.isfinite(value) and value >= 0):
            raise OtaModelSettingError(f"{name} must be a finite number >= 0, not {value!r}.")
    if image_size < 1 or block_size < 1:
        raise OtaModelSettingError(
            f"An image ({image_size} bytes) and a block ({block_size} bytes) hold at least 1 byte."
        )
    blocks = -(-image_size // block_size)
    exchange_s = expected_exchange_s(round_trip_s, loss_rate, request_timeout_s)
    exchanges = blocks + 2  # the query, every block, the Upgrade End Request
    return exchanges * exchange_s + (blocks - 1) * block_period_s + verify_time_s + countdown_s
