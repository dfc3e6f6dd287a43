"""Helpers of bench/bench_ingest.py (alert shapes, HTTP load, webhook sink, processes)."""
