"""A rig behind ser2net: payload rate through RFC 2217 and raw TCP vs a direct pty.

    python -m benchmarks remote

One `bridgelab emulate` process per run, on a pty, paced at 115200 baud with 1 ms adapter
latency; the same 128 KiB image is sent by a local update (default policy) directly to
the pty, and to the same kind of bridge through a real ser2net (the documented
configuration of docs/lab-rigs.md) as `rfc2217://` and as `socket://`. The ratio is the
payload rate through ser2net over the direct one, measured side by side in one run
(goal >= 0.95). Runs are interleaved (direct, rfc2217, socket, direct, ...) and the median
of each is compared, so a busy machine slows all three alike.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from benchmarks.emulators import emulator_processes, signed_image, table
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import UpdateRequest

BAUD, LATENCY_MS, SIZE, ROUNDS = 115200, 1.0, 128 * 1024, 3
POLICY = UpdatePolicy(healthy_s=0.0)
GOAL = 0.95


def _rate(url: str, image: Path) -> float:
    result = UpdateEngine(UpdateRequest(url, image, baudrate=BAUD, policy=POLICY)).run()
    if not result.ok or result.throughput_bps is None:
        raise RuntimeError(f"update through {url} failed: {result.error}")
    return result.throughput_bps


def main(argv: list[str]) -> int:
    del argv
    try:
        from tests.rig_processes import Ser2Net, free_port, ser2net_config
        from tests.rigs.conftest import DOC_RAW_PORT, DOC_RFC2217_PORT
    except ImportError as error:  # run from the repository root: `make bench`
        print(f"skipped: {error}")
        return 0
    import pytest

    rates: dict[str, list[float]] = {"direct pty": [], "ser2net rfc2217": [], "ser2net raw tcp": []}
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as folder:
        root = Path(folder)
        image = signed_image(root / "image.ota", SIZE)
        args = ["--baud", str(BAUD), "--adapter-latency-ms", str(LATENCY_MS)]
        # One fresh bridge (running 1.2.0) per run: each run installs 1.3.0 on it.
        with emulator_processes([args] * (3 * ROUNDS)) as ptys:
            servers: list[Ser2Net] = []
            try:
                for n in range(ROUNDS):
                    direct, via_rfc2217, via_raw = ptys[3 * n : 3 * n + 3]
                    rates["direct pty"].append(_rate(direct, image))
                    for pty, name in ((via_rfc2217, "rfc2217"), (via_raw, "raw tcp")):
                        ports = [free_port(), free_port()]
                        config = ser2net_config(
                            pty, {DOC_RFC2217_PORT: ports[0], DOC_RAW_PORT: ports[1]}
                        )
                        try:
                            server = Ser2Net(config, ports, root / f"s2n-{n}-{name}")
                        except pytest.skip.Exception as skipped:
                            print(f"skipped: {skipped}")
                            return 0
                        servers.append(server.start())
                        url = (
                            f"rfc2217://127.0.0.1:{ports[0]}?ign_set_control"
                            if name == "rfc2217"
                            else f"socket://127.0.0.1:{ports[1]}"
                        )
                        rates[f"ser2net {name}"].append(_rate(url, image))
            finally:
                for server in servers:
                    server.stop()
    direct_rate = statistics.median(rates["direct pty"])
    rows = []
    failures = 0
    for name, values in rates.items():
        median = statistics.median(values)
        ratio = median / direct_rate
        is_remote = name != "direct pty"
        failures += is_remote and ratio < GOAL
        rows.append(
            (
                name,
                f"{median:,.0f} B/s",
                f"{median / (BAUD / 10):.1%}",
                f"{ratio:.3f}",
                f">= {GOAL}" if is_remote else "",
            )
        )
    print(
        f"115200 baud, {LATENCY_MS:g} ms adapter latency, {SIZE // 1024} KiB image, "
        f"median of {ROUNDS}"
    )
    print(table(rows, ("path", "payload rate", "of line rate", "vs direct", "goal")))
    return 1 if failures else 0
