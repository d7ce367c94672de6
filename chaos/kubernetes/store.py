"""The controller's journals for a team, kept in the team's namespace (ConfigMap ``chaoslab-journal``),
so trainees and instructors on different laptops read the same audit log, change feed and scenario."""

from __future__ import annotations

from chaoslab.chaos.kubernetes.client import explain

NAME = "chaoslab-journal"
MAX_LINES = 2000
"""Per journal: a ConfigMap holds 1 MiB, so the oldest lines go first."""


class ConfigMapStore:
    def __init__(self, api, namespace: str):
        from kubernetes import client

        self.core = client.CoreV1Api(api)
        self.namespace = namespace

    def _get(self):
        from kubernetes.client.exceptions import ApiException

        try:
            return self.core.read_namespaced_config_map(NAME, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise explain(exc, f"reading {NAME} in {self.namespace}") from None

    def read(self, key: str) -> str:
        found = self._get()
        return ((found.data or {}) if found else {}).get(key, "")

    def _update(self, key: str, change) -> None:
        """Read, change, write back with the resourceVersion read; on a conflict, start again."""
        from kubernetes.client.exceptions import ApiException

        for _ in range(10):
            found = self._get()
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
                        {"metadata": {"name": NAME, "labels": {"app.kubernetes.io/part-of": "chaoslab"}}, "data": data},
                    )
                else:
                    self.core.replace_namespaced_config_map(
                        NAME,
                        self.namespace,
                        {
                            "metadata": {
                                "name": NAME,
                                "resourceVersion": found.metadata.resource_version,
                                "labels": found.metadata.labels,
                            },
                            "data": data,
                        },
                    )
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise explain(exc, f"writing {NAME} in {self.namespace}") from None
        raise explain(RuntimeError("kept conflicting with other writers"), f"writing {NAME} in {self.namespace}")

    def append(self, key: str, line: str) -> None:
        self._update(key, lambda text: "\n".join((text.splitlines() + [line])[-MAX_LINES:]) + "\n")

    def write(self, key: str, text: str) -> None:
        self._update(key, lambda _: text)

    def delete(self, key: str) -> None:
        self._update(key, lambda _: None)
