"""Benchmarks of the graph engine, run as programs (``python -m benchmarks.ingest``).

They measure throughput side by side in one run and report ratios between the engine, the
Kafka transport alone and the pure core; they assert nothing about absolute timings.
"""
