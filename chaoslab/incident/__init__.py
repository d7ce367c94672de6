"""Incidents: the record and its timeline, triage, comms, root cause, verified resolution, the
post-incident review and scores, following the field's conventions (docs/scoring.md names them).

One module per concern, each readable alone:

* ``severity``: P1 to P4 (P0 is P1) and each tier's response contract;
* ``record``: the incident record, folded from an append-only timeline in the lab's journal store
  (files locally, the team's board ConfigMap on Kubernetes), with escalations and overdue updates;
* ``alerting``: the one call the lab makes when an alert fires or resolves (``on_alert``);
* ``drills``: starting a drill the way a room plays it (traffic, the healthy measurement, faults,
  baseline) and stopping it;
* ``truth``: what really happened in the drill run an incident is bound to, read from the instructor's
  journals (or not readable);
* ``silence``: windows in which a page opens no incident (a verify's own traffic);
* ``impact``: checkouts failed or slow, p95 and money affected, from the services' own metrics;
* ``triage``: the five questions, their answers and their grading;
* ``comms``: acknowledgment, status update and resolution announcements from templates;
* ``review``: the post-incident review draft, Markdown and JSON;
* ``score``: the times, counts and the ranking, with the formula in docs/scoring.md;
* ``mystery``: drawing a hidden drill and deciding what a trainee may see.
"""
