"""Decoding speed of the wire codecs, over the hex vectors written in the docs.

Every example frame in docs/protocol.md (request, response and event bodies, decoded
through `decode_request`/`decode_response`/`decode_event`, frame already split) and every
well-formed frame in docs/zcl-ota.md (`decode_frame`, header included) is decoded in a
loop; the figure is the mean time per decode in microseconds, best of five rounds (the
best round is the one least disturbed by other work on the machine). Compare the figure
of two checkouts run one after the other, not against a fixed goal.

    python -m benchmarks codec
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from bridgelab.drivers import protocol as p
from bridgelab.drivers.framing import FrameDecoder, FrameKind
from bridgelab.zigbee.zcl_ota import decode_frame

DOCS = Path(__file__).resolve().parents[1] / "docs"
ROUNDS = 15
LOOPS = 500

_PROTOCOL_ROW = re.compile(r"^\| [A-Z_0-9]+ \| (?P<kind>[a-z]+[^|]*) \| `(?P<hex>[0-9a-f ]+)` \|$")


def protocol_decoders() -> list[Callable[[], object]]:
    """One call per documented bridge-protocol frame with an OK (or no) status."""
    calls: list[Callable[[], object]] = []
    for line in (DOCS / "protocol.md").read_text(encoding="utf-8").splitlines():
        match = _PROTOCOL_ROW.match(line)
        if not match:
            continue
        (frame,) = FrameDecoder().feed(bytes.fromhex(match["hex"]))
        if frame.kind == FrameKind.REQUEST:
            calls.append(lambda frame=frame: p.decode_request(frame))
        elif frame.kind == FrameKind.EVENT:
            calls.append(lambda frame=frame: p.decode_event(frame))
        elif frame.payload[:1] == bytes([p.Status.OK]):
            request_type = p.REQUESTS[frame.command]
            calls.append(lambda frame=frame, r=request_type: p.decode_response(r, frame))
    return calls


def zcl_decoders() -> list[Callable[[], object]]:
    """One call per well-formed frame in docs/zcl-ota.md."""
    text = (DOCS / "zcl-ota.md").read_text(encoding="utf-8")
    body = text.split("## Vectors: well-formed frames\n", 1)[1].split("\n## ", 1)[0]
    calls: list[Callable[[], object]] = []
    for line in body.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        if len(cells) < 4 or cells[0] == "id" or set(cells[0]) == {"-"}:
            continue
        frame = bytes.fromhex(cells[2] + cells[3])
        calls.append(lambda frame=frame: decode_frame(frame))
    return calls


def per_decode_us(calls: list[Callable[[], object]]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(LOOPS):
            for call in calls:
                call()
        best = min(best, time.perf_counter() - start)
    return best / (LOOPS * len(calls)) * 1e6


def main(argv: list[str]) -> int:
    del argv
    protocol, zcl = protocol_decoders(), zcl_decoders()
    print(f"| codec | vectors | µs per decode (best of {ROUNDS}) |")
    print("|---|---|---|")
    print(
        f"| bridge protocol (docs/protocol.md) | {len(protocol)} | {per_decode_us(protocol):.2f} |"
    )
    print(f"| ZCL OTA frames (docs/zcl-ota.md) | {len(zcl)} | {per_decode_us(zcl):.2f} |")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
