"""The alerting shell: the evaluation tick (:mod:`.tick`) and the state file
(:mod:`.statefile`); the sinks are in :mod:`callpulse.sinks`."""

from callpulse.alerting.tick import Alerting

__all__ = ["Alerting"]
