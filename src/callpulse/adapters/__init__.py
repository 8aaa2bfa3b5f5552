"""Adapters at the edge: each turns one platform's own event stream into events v1, so the
monitor, rules and maintenance logic run unchanged (docs/adapters.md)."""
