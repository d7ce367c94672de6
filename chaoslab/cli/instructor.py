"""The instructor's views: what shows the answer key (``--reveal``, ``scenario show --spoilers``) is for
instructors only, and every use is written to the audit log (who looked at what, when)."""

from __future__ import annotations

from chaoslab.chaos.journal import AUDIT, AuditLog


def authorise(lab, what: str) -> None:
    """Refused unless the caller is an instructor of ``lab`` (chaoslab.backend.Backend.instructor);
    then the view is audited."""
    lab.instructor()
    AuditLog(lab.store(), AUDIT).append("instructor.view", what=what, actor=lab.actor)
