"""Alerts: one definition of the SLOs and alert rules, the Prometheus rule file generated from it, and
the lab daemon's own evaluation of the same rules on the local lab.

``definitions`` (SLOs and alerts) → ``rules`` (Rule objects, the chart's rule file) → ``evaluator``
(alert state: pending, firing, resolved) over ``history`` (scraped samples, bounded) filled by
``scrape``; ``promql`` evaluates the rules' PromQL, ``templates`` their summaries; ``local`` runs it all
in the lab daemon and ``api`` serves it. ``tiers`` holds P1–P4 and their response contracts.
"""
