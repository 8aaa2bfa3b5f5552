"""What a source raises when it cannot deliver (the Protocols are in :mod:`callpulse.protocols`)."""

from __future__ import annotations


class SourceError(Exception):
    """A source cannot deliver right now (broker unreachable, file unreadable)."""


class SourceRefusedError(SourceError):
    """The source will not deliver with this configuration (credentials refused, certificate
    not trusted): retrying cannot help, so the daemon stops and says what to fix."""
