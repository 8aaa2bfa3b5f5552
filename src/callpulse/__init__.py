"""callpulse: real-time health monitoring for 24/7 contact centers."""

__version__ = "0.1.0"
