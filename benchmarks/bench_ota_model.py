"""How much faster than real time the OTA client model runs, and how well it is predicted.

For a 300 KiB image, each row runs the client model against the minimal image server
(no link layer, no emulated bridge) and reports the simulated seconds, the wall seconds,
their ratio for the whole loop and for the client model alone (the server's share of the
wall time subtracted), and the closed-form prediction's error.

Run: `python -m benchmarks ota_model` (or `make bench BENCH_ARGS=ota_model`).
"""

from __future__ import annotations

import random
import time

from bridgelab.zigbee.ota_client import OtaClientConfig, OtaOutcome
from tests.ota_image_server import ImageOtaServer, simulate_upgrade

IMAGE_SIZE = 300 * 1024


class _TimedServer(ImageOtaServer):
    """The image server, keeping count of the wall time it spends answering."""

    wall_s = 0.0

    def handle(self, frame: bytes) -> list[bytes]:
        started = time.perf_counter()
        try:
            return super().handle(frame)
        finally:
            self.wall_s += time.perf_counter() - started


def _run(image: bytes, block_size: int, loss: float) -> dict[str, float]:
    config = OtaClientConfig(request_loss_rate=loss / 2, response_loss_rate=loss / 2)
    started = time.perf_counter()
    client, server = simulate_upgrade(
        image, config=config, block_size=block_size, server_type=_TimedServer
    )
    wall_s = time.perf_counter() - started
    assert isinstance(server, _TimedServer)
    if client.outcome is not OtaOutcome.UPGRADED:
        raise RuntimeError(f"the simulated upgrade ended {client.outcome}")
    simulated_s = client.clock.now_s
    predicted_s = config.predict_duration_s(len(image), server_block_size=block_size)
    return {
        "simulated_s": simulated_s,
        "wall_s": wall_s,
        "loop_ratio": simulated_s / wall_s,
        "model_ratio": simulated_s / (wall_s - server.wall_s),
        "error_pct": (simulated_s - predicted_s) / predicted_s * 100,
    }


def main(argv: list[str]) -> int:
    del argv
    image = random.Random(0).randbytes(IMAGE_SIZE)
    print(f"OTA client model, {IMAGE_SIZE // 1024} KiB image, round trips of 0.25-0.85 s")
    header = (
        f"{'block':>5} {'loss':>5} {'simulated':>10} {'wall':>8} "
        f"{'sim/wall loop':>14} {'sim/wall model':>15} {'predict err':>12}"
    )
    print(header)
    for block_size, loss in ((63, 0.0), (40, 0.0), (63, 0.05), (40, 0.05)):
        row = _run(image, block_size, loss)
        print(
            f"{block_size:>5} {loss:>5.0%} {row['simulated_s'] / 60:>8.1f} m "
            f"{row['wall_s']:>7.2f}s {row['loop_ratio']:>13,.0f}x {row['model_ratio']:>14,.0f}x "
            f"{row['error_pct']:>+11.1f}%"
        )
    return 0
