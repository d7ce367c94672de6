"""Benchmarks: measured, printed as ratios against a baseline from the same run; never pass/fail tests."""
