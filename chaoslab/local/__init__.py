"""The embedded default: the whole lab as local processes on loopback, no Docker, no cluster.

``chaoslab up`` starts a lab daemon (``daemon.py``) in its own session; it owns
every process of the lab (PostgreSQL, Redis, the services), restarts the ones
that die, receives their traces and answers ``status``. All state lives in
one directory (``statedir.py``).
"""
