"""Benchmark peers: other stream processors, measured against callpulse; not part of it."""
