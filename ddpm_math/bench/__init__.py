"""Profiling the sampling loop: loop against bare model calls, peers, torch.profiler summaries.

Behind ``ddpm-math bench sample``; the pytest-benchmark suites in ``benchmarks/`` time the same
loops.
"""
