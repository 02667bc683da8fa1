"""Triage store speed: filtered queries on a million events, and the cost of logging.

    python -m benchmarks store [--sessions N] [--rebuild]

Builds (once, then reuses from the temp folder) a log of 100,000 sessions and 1,000,000
events with `fill_synthetic`, then measures, in this process:

* filtered session queries (by device, failure class, 7-day range; 100 rows), p95;
* `log list --limit 100`, the library query and the whole CLI command in-process, p95;
* opening the log, stats over everything, SQLite's quick_check;
* the writer: batched events per second, durable (fsynced) events per second, and the
  time a caller spends in one `log_progress` call;
* a CPU-bound stand-in for a transfer loop, with the store attached vs detached, run
  alternately; the ratio is the logging overhead's upper bound (a real transfer waits
  on the serial line, so it has more slack).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import socket
import sqlite3
import statistics
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from bridgelab.cli import main as cli_main
from bridgelab.data import SessionFilter, SessionStart, TriageStore
from bridgelab.data.schema import SCHEMA_VERSION
from bridgelab.data.synthetic import DEFAULT_END_S, DEVICE_POOL, device_eui64, fill_synthetic

EVENTS_PER_SESSION = 10
CACHE_DIR = Path(tempfile.gettempdir()) / "bridgelab-bench-store"
FAILURE_CLASSES = ("stalled", "link-lost", "hash-mismatch", "version-unchanged", "device-error")


def _dataset(sessions: int, rebuild: bool) -> tuple[Path, float | None]:
    """The cached big log (built when absent, stale or asked); returns (path, build s)."""
    path = CACHE_DIR / f"triage-{sessions}.db"
    if path.exists() and not rebuild:
        try:
            with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                count = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
            if version == SCHEMA_VERSION and count == sessions:
                return path, None
        except sqlite3.Error:
            pass
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for stale in CACHE_DIR.glob(f"{path.name}*"):
        if stale.is_file():
            stale.unlink()
    started = time.perf_counter()
    TriageStore.open(path).close()
    fill_synthetic(path, sessions, EVENTS_PER_SESSION, seed=1)
    return path, time.perf_counter() - started


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _timed(fn: Callable[[int], object], repeats: int) -> list[float]:
    fn(0)  # warm the page cache and the statement cache
    samples = []
    for index in range(repeats):
        started = time.perf_counter()
        fn(index)
        samples.append(time.perf_counter() - started)
    return samples


def _week(index: int) -> SessionFilter:
    start = DEFAULT_END_S - 360 * 86400 + (index * 7919 % 350) * 86400
    since = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(start))
    until = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(start + 7 * 86400))
    return SessionFilter(since=since, until=until)


def _cli_list(path: Path) -> Callable[[int], object]:
    def run(_: int) -> object:
        with contextlib.redirect_stdout(io.StringIO()):
            return cli_main(["log", "list", "--db", str(path), "--limit", "100"])

    return run


def _query_figures(path: Path, repeats: int) -> list[tuple[str, float, str, bool]]:
    rows: list[tuple[str, float, str, bool]] = []
    with TriageStore.open(path) as store:
        cases: list[tuple[str, Callable[[int], object], float]] = [
            ("query by device, p95 ms", lambda i: store.query_sessions(
                SessionFilter(device=device_eui64(i * 37 % DEVICE_POOL)), limit=100), 100.0),
            ("query by failure class, p95 ms", lambda i: store.query_sessions(
                SessionFilter(failure_class=FAILURE_CLASSES[i % 5]), limit=100), 100.0),
            ("query by 7-day range, p95 ms",
             lambda i: store.query_sessions(_week(i), limit=100), 100.0),
            ("count by failure class, p95 ms", lambda i: store.count_sessions(
                SessionFilter(failure_class=FAILURE_CLASSES[i % 5])), 100.0),
            ("latest 100 (library), p95 ms", lambda i: store.query_sessions(limit=100), 50.0),
        ]  # fmt: skip
        for name, fn, goal_ms in cases:
            p95 = _p95(_timed(fn, repeats)) * 1000
            rows.append((name, p95, f"< {goal_ms:.0f}", p95 < goal_ms))
        stats_s = min(_timed(lambda i: store.stats(), 3))
        rows.append(("stats, 4 groups over all, ms", stats_s * 1000, "", True))
    cli = _p95(_timed(_cli_list(path), max(20, repeats // 5))) * 1000
    rows.append(("`log list --limit 100` (CLI, in-process), p95 ms", cli, "< 50", cli < 50))
    opening = _p95(_timed(lambda i: TriageStore.open(path).close(), 20)) * 1000
    rows.append(("open + close, p95 ms", opening, "", True))
    started = time.perf_counter()
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        conn.execute("PRAGMA quick_check").fetchall()
    rows.append(("quick_check (run only before writes at open), ms",
                 (time.perf_counter() - started) * 1000, "", True))  # fmt: skip
    return rows


def _writer_figures(folder: Path) -> list[tuple[str, float, str, bool]]:
    rows: list[tuple[str, float, str, bool]] = []
    with TriageStore.open(folder / "writer.db") as store:
        sid = store.begin_session(SessionStart(mode="local", port_url="emu://bench"))
        count = 200_000
        started = time.perf_counter()
        for n in range(count):
            store.log_event(sid, "block", {"n": n}, durable=False)
        store.flush()
        rows.append(("batched events written, per s", count / (time.perf_counter() - started),
                     "", True))  # fmt: skip
        durable = 300
        started = time.perf_counter()
        for n in range(durable):
            store.log_event(sid, "command", {"n": n})
        rows.append(("durable (fsynced) events, per s",
                     durable / (time.perf_counter() - started), "", True))  # fmt: skip
        calls = []
        for n in range(100_000):
            before = time.perf_counter()
            store.log_progress(sid, n * 64, 6_400_000)
            calls.append(time.perf_counter() - before)
        store.flush()
        rows.append(("caller time per log_progress, mean us",
                     statistics.fmean(calls) * 1e6, "", True))  # fmt: skip
        rows.append(("caller time per log_progress, p99 us",
                     sorted(calls)[int(len(calls) * 0.99)] * 1e6, "", True))  # fmt: skip
        store.end_session(sid, "success")
    return rows


def _cpu_transfer(store: TriageStore | None, blocks: int) -> float:
    """Worst case: a transfer loop with no I/O at all, CRC-ing each 64-byte block."""
    image = bytes(range(256)) * 64
    sid = store.begin_session(SessionStart(mode="local")) if store else ""
    started = time.perf_counter()
    crc = 0
    for block in range(blocks):
        chunk = image[(block * 64) % len(image) :][:64]
        for _ in range(20):
            crc = zlib.crc32(chunk, crc)
        if store is not None:
            store.log_progress(sid, block * 64, blocks * 64)
            store.log_frame(sid, "tx", chunk)
    elapsed = time.perf_counter() - started
    if store is not None:
        store.end_session(sid, "success")
    return elapsed


def _stop_and_wait_transfer(store: TriageStore | None, blocks: int) -> float:
    """A stop-and-wait exchange with a device thread over a socket pair: each block waits
    for its acknowledgement, so any delay the writer thread causes (the GIL) shows."""
    host, device = socket.socketpair()

    def bridge() -> None:
        while True:
            frame = device.recv(128)
            if not frame or frame == b"bye":
                return
            device.sendall(b"\x06" + frame[:2])

    responder = threading.Thread(target=bridge)
    responder.start()
    block_bytes = bytes(range(64))
    sid = store.begin_session(SessionStart(mode="local")) if store else ""
    started = time.perf_counter()
    for block in range(blocks):
        frame = block.to_bytes(2, "little") + block_bytes
        host.sendall(frame)
        reply = host.recv(16)
        if store is not None:
            store.log_frame(sid, "tx", frame)
            store.log_frame(sid, "rx", reply)
            store.log_progress(sid, block * 64, blocks * 64)
    elapsed = time.perf_counter() - started
    host.sendall(b"bye")
    responder.join()
    host.close()
    device.close()
    if store is not None:
        store.end_session(sid, "success")
    return elapsed


def _overhead_figures(folder: Path) -> list[tuple[str, float, str, bool]]:
    rows: list[tuple[str, float, str, bool]] = []
    with TriageStore.open(folder / "overhead.db") as store:
        for name, transfer, blocks, goal in (
            ("stop-and-wait transfer, attached/detached speed", _stop_and_wait_transfer,
             10_000, 0.98),
            ("CPU-bound loop (worst case), attached/detached speed", _cpu_transfer,
             20_000, 0.0),
        ):  # fmt: skip
            ratios = []
            for _ in range(5):  # alternate, so drifts of the machine hit both alike
                detached = transfer(None, blocks)
                attached = transfer(store, blocks)
                ratios.append(detached / attached)
            ratio = statistics.median(ratios)
            rows.append((name, ratio, f">= {goal}" if goal else "", ratio >= goal))
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks store")
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    path, build_s = _dataset(args.sessions, args.rebuild)
    size_mb = path.stat().st_size / 1e6
    print(f"log: {path} ({args.sessions:,} sessions, "
          f"{args.sessions * EVENTS_PER_SESSION:,} events, {size_mb:.0f} MB"
          + (f", built in {build_s:.1f} s" if build_s else ", reused") + ")")  # fmt: skip
    rows = _query_figures(path, args.repeats)
    with tempfile.TemporaryDirectory(prefix="bridgelab-bench-writer-", dir=CACHE_DIR) as tmp:
        rows += _writer_figures(Path(tmp))
        rows += _overhead_figures(Path(tmp))
    width = max(len(name) for name, *_ in rows)
    print(f"{'measure':<{width}}  {'value':>12}  {'goal':<12}  ok")
    for name, value, goal, ok in rows:
        shown = f"{value:,.3f}" if value < 10 else f"{value:,.0f}"
        print(f"{name:<{width}}  {shown:>12}  {goal:<12}  {'yes' if ok else 'NO'}")
    return 0 if all(ok for *_, ok in rows) else 1
