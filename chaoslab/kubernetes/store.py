"""The controller's journals for a team, kept in the team's namespace, so trainees and instructors on
different laptops read the same audit log, change feed, scenario and incidents.

Two ConfigMaps, so that RBAC can tell them apart: ``chaoslab-journal`` holds what only instructors may
read in a graded cohort (the audit log, the running scenario, the drill's baseline: the answer key),
``chaoslab-board`` what the team reads and writes (the change feed, the incidents, and the alerts the
team's pager has paged from Alertmanager, chaoslab/incident/pager.py). The chart's
``trainee.chaos=false`` gives trainees the board and not the journal (docs/scoring.md).
"""

from __future__ import annotations

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaoslab.chaos.drill import DRILLS
from chaoslab.chaos.journal import CHANGES
from chaoslab.chaos.kubernetes.client import explain
from chaoslab.incident.actions import ACTIONS
from chaoslab.incident.alerting import ALERTS
from chaoslab.incident.pager import PAGED
from chaoslab.incident.record import INCIDENTS
from chaoslab.incident.rota import ONCALL
from chaoslab.incident.silence import SILENCES

NAME = "chaoslab-journal"
BOARD = "chaoslab-board"
BOARD_KEYS = frozenset({CHANGES, DRILLS, INCIDENTS, PAGED, SILENCES, ALERTS, ONCALL, ACTIONS})
"""Keys on the team's board; every other key is in the journal. The drill journal is there so that a
trainee's own ``incident open`` binds the incident to the drill being played, and every trainee view
can tell whether a mystery is still secret; the silences because a trainee's ``verify`` sets one; the
alert log because it is what a trainee saw fire; the on-call rota and the action items because the
team keeps them."""


def configmap_of(key: str) -> str:
    """The ConfigMap that holds ``key``."""
    return BOARD if key in BOARD_KEYS else NAME


MAX_LINES = 2000
"""Per journal: a ConfigMap holds 1 MiB, so the oldest lines go first."""


class ConfigMapStore:
    def __init__(self, api, namespace: str):
        self.core = client.CoreV1Api(api)
        self.namespace = namespace

    def _get(self, name: str):
        try:
            return self.core.read_namespaced_config_map(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise explain(exc, f"reading {name} in {self.namespace}") from None

    def read(self, key: str) -> str:
        found = self._get(configmap_of(key))
        return ((found.data or {}) if found else {}).get(key, "")

    def _update(self, key: str, change) -> None:
        """Read, change, write back with the resourceVersion read; on a conflict, start again."""
        name = configmap_of(key)
        for _ in range(10):
            found = self._get(name)
            data = dict((found.data or {}) if found else {})
            new = change(data.get(key, ""))
            if new is None:
                data.pop(key, None)
            else:
                data[key] = new
            try:
                if found is None:
                    self.core.create_namespaced_config_map(
                        self.namespace,
                        {"metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "chaoslab"}}, "data": data},
                    )
                else:
                    self.core.replace_namespaced_config_map(
                        name,
                        self.namespace,
                        {
                            "metadata": {
                                "name": name,
                                "resourceVersion": found.metadata.resource_version,
                                "labels": found.metadata.labels,
                            },
                            "data": data,
                        },
                    )
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise explain(exc, f"writing {name} in {self.namespace}") from None
        raise explain(RuntimeError("kept conflicting with other writers"), f"writing {name} in {self.namespace}")

    def append(self, key: str, line: str) -> None:
        self._update(key, lambda text: "\n".join((text.splitlines() + [line])[-MAX_LINES:]) + "\n")

    def write(self, key: str, text: str) -> None:
        self._update(key, lambda _: text)

    def delete(self, key: str) -> None:
        self._update(key, lambda _: None)

    def swap(self, key: str, expected: str, text: str | None) -> bool:
        """The resourceVersion makes the read and the write one: a writer in between makes the replace
        conflict, and the comparison is made again on what that writer left."""

        def change(current: str) -> str | None:
            if current != expected:
                raise _Moved
            return text

        try:
            self._update(key, change)
        except _Moved:
            return False
        return True


class _Moved(Exception):
    """The text under a key is no longer what a swap expected."""
