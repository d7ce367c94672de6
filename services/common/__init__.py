"""Plumbing every service shares: HTTP app, health, database, queue, peers, money."""
