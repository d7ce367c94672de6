"""chaoslab: a multi-service chaos lab for incident-response training."""

__version__ = "0.1.0"
