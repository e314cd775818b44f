"""Benchmarks: `make bench` runs bench/run_all.py; figures land in bench/results/latest.json."""
