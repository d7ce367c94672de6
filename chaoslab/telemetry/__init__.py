"""Traces, metrics and logs, set up the same way in every service."""
