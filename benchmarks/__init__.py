"""Benchmarks: speed measured as ratios in one run, never as timed tests.

Each `bench_*.py` module has `main(argv) -> int` and prints its figures as a table; run
one with `python -m benchmarks.bench_firmware`, or all with `python -m benchmarks`
(`make bench`). The README quotes the latest figures.
"""
