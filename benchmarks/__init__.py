"""Benchmarks for hacheck: a generator of realistic flows and the suite that times them.

`python -m benchmarks.run` (see benchmarks/README.md).
"""
