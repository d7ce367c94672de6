"""Notices out to the webhooks, for whoever follows a team's record without a person watching: the lab
daemon locally, the team's pager on Kubernetes. Every page, escalation and resolve written to the
record goes to CHAOSLAB_PAGE_WEBHOOK (chaoslab.incident.webhook), and every change of the status page
to CHAOSLAB_PAGE_STATUS_WEBHOOK (chaoslab.incident.subscribers), from what is written after it starts.
"""

from __future__ import annotations

import logging
import threading

from chaoslab.chaos.journal import Store
from chaoslab.incident.notify import Follower
from chaoslab.incident.subscribers import Subscription
from chaoslab.incident.webhook import Sender, forward
from chaoslab.settings import Paging

log = logging.getLogger("chaoslab.relay")


def relay(store: Store, team: str, paging: Paging, stopping: threading.Event, actor: str) -> None:
    """Look at the record every ``paging.every_s`` and send what is new, until ``stopping``; ``actor``
    writes the escalations a look finds due."""
    pages = Sender(paging.webhook) if paging.webhook else None
    status = Sender(paging.status_webhook, name="status webhook") if paging.status_webhook else None
    follower = Follower(store, actor=actor) if pages else None
    subscription = Subscription(store, team) if status else None
    log.info("pages go out to %s, status page changes to %s", paging.webhook or "-", paging.status_webhook or "-")
    while not stopping.wait(paging.every_s):
        try:
            if pages:
                forward(follower, pages.post)
            for body in subscription.changes() if status else ():
                status.post(body)
        except Exception:  # one unreadable look must not end the notifications
            log.exception("reading the record for the webhooks failed")
    for sender in (pages, status):
        if sender:
            sender.stop()
