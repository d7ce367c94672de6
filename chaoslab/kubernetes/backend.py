"""A team's namespace as a backend (chaoslab.backend): agents through the API server's pod proxy,
journals in a ConfigMap, the namespace's own Locust, and the faults only the Kubernetes API can do."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property

from chaoslab import command
from chaoslab.backend import Journals, LoadProfile, ResetReport, TimedRun
from chaoslab.chaos.controller import Controller
from chaoslab.chaos.journal import AUDIT, CHANGES, AuditLog, Journal
from chaoslab.chaos.kubernetes import actions
from chaoslab.chaos.kubernetes.agents import KubernetesAgents
from chaoslab.chaos.kubernetes.client import api_client
from chaoslab.chaos.kubernetes.identity import authorize_namespace
from chaoslab.chaos.kubernetes.probes import KubernetesProbe
from chaoslab.diagnose.rank import diagnose
from chaoslab.errors import BadInput, ChaoslabError, Refused
from chaoslab.kubernetes import load as locust
from chaoslab.kubernetes.alertmanager import Alertmanager
from chaoslab.kubernetes.diagnosis import KubernetesInputs
from chaoslab.kubernetes.load import KubernetesLoadStats
from chaoslab.kubernetes.receiver import Pager
from chaoslab.kubernetes.store import ConfigMapStore
from chaoslab.settings import Paging
from chaoslab.topology import FRONT_DOOR, component

STOPPED_STATES = (None, "ready", "stopped")
"""Locust's states in which no users run."""
STOP_WAIT_S = 20.0
"""How long `load stop` waits for Locust's users to finish their current request."""


class KubernetesBackend:
    target = "kubernetes"

    def __init__(self, namespace: str, context: str | None = None, api=None):
        self.namespace = namespace
        self.where = f"namespace {namespace}"
        self._context = context
        self._api = api

    @cached_property
    def api(self):
        return self._api or api_client(self._context)

    @cached_property
    def agents(self):
        """Who is calling, whether they may touch this namespace, and where its agents are (the
        authorisation runs here, before anything else touches the namespace)."""
        return KubernetesAgents(self.namespace, api=self.api)

    @cached_property
    def caller(self):
        """Who is calling and the team of this namespace they may act on (the authorisation, without
        reading the agents' token: a trainee in a graded cohort may read the board, not the agents)."""
        return authorize_namespace(self.api, self.namespace)

    @property
    def actor(self) -> str:
        return self.caller[0].username

    def controller(self):
        agents = self.agents
        return Controller(agents, self.store(), agents.identity.username)

    def store(self):
        self.caller  # noqa: B018 - the authorisation check, before touching the namespace's ConfigMaps
        return ConfigMapStore(self.api, self.namespace)

    def journals(self) -> Journals:
        store = self.store()
        return Journals(AuditLog(store, AUDIT), Journal(store, CHANGES))

    def reset(self) -> ResetReport:
        controller = self.controller()
        removed, unreachable = controller.reset()
        return ResetReport(removed, unreachable)

    def load(self) -> KubernetesLoad:
        self.caller  # noqa: B018 - the authorisation check, before touching the namespace's Locust
        return KubernetesLoad(self.api, self.namespace)

    def probe(self):
        self.caller  # noqa: B018 - the authorisation check
        return KubernetesProbe(self.api, self.namespace)

    def front_door(self) -> str:
        """service-a as the namespace's own pods (its Locust) reach it."""
        return f"http://{FRONT_DOOR}:{component(FRONT_DOOR).http_port}"

    def diagnose(self, since_s: float):
        """From the platform's Jaeger and Prometheus and the team's board, with the caller's own rights."""
        return diagnose(KubernetesInputs(self.api, self.namespace, self.store(), since_s), since_s)

    def instructor(self) -> None:
        """The caller may read the instructors' journal (RBAC decides: in a graded cohort trainees may not)."""
        try:
            self.store().read(AUDIT)
        except ChaoslabError as exc:
            raise Refused(f"instructors only: {exc}") from None

    def reap(self) -> list[str]:
        """Needs no agent token: the reaper's ServiceAccount may change deployments and policies only."""
        authorize_namespace(self.api, self.namespace)
        return actions.revert(self.api, self.namespace, expired_before=time.time())

    def pager(self, alertmanager_url: str, interval_s: float, paging: Paging | None = None) -> Pager:
        """The team's pager: its alerts from this Alertmanager onto its incident record."""
        if not alertmanager_url:
            raise BadInput("no Alertmanager to page from: set CHAOSLAB_ALERTS_ALERTMANAGER_URL (the chart sets it)")
        _, team = self.caller
        return Pager(self.store(), team, Alertmanager(alertmanager_url), interval_s, paging)


class KubernetesLoad:
    """The namespace's Locust Deployment, driven through the API server's service proxy."""

    def __init__(self, api, namespace: str):
        self.api = api
        self.namespace = namespace

    def start(
        self, profile: LoadProfile, started_by: str, host: str | None = None, run_time_s: float | None = None
    ) -> str:
        if self.stats() is not None:
            raise Refused(f"load is already running in {self.namespace}; `{command('load stop')}` stops it")
        locust.swarm(self.api, self.namespace, profile, host, run_time_s)
        return f"web UI: kubectl -n {self.namespace} port-forward svc/locust 8089"

    def stats(self) -> dict | None:
        stats = locust.stats(self.api, self.namespace)
        return None if stats.get("state") in STOPPED_STATES else stats

    def stop(self) -> str | None:
        """Stop Locust and wait until it says so: it passes through "stopping" first, and a `load start`
        right after a `scenario stop` was refused as "already running" in that moment."""
        if self.stats() is None:
            return None
        locust.stop(self.api, self.namespace)
        deadline = time.monotonic() + STOP_WAIT_S
        while self.stats() is not None:
            if time.monotonic() > deadline:
                return f"load told to stop in {self.namespace}; Locust had not stopped after {STOP_WAIT_S:.0f} s"
            time.sleep(0.5)
        return f"load stopped in {self.namespace}"

    def run(
        self, profile: LoadProfile, duration_s: float, label: str, on_progress: Callable[[float, dict], None]
    ) -> TimedRun:
        if self.stats() is not None:
            raise Refused(f"load is already running in {self.namespace}; stop it first (`{command('load stop')}`)")
        locust.swarm(self.api, self.namespace, profile)
        locust.reset(self.api, self.namespace)
        started = time.monotonic()
        try:
            while (elapsed := time.monotonic() - started) < duration_s:
                on_progress(elapsed, locust.stats(self.api, self.namespace))
                time.sleep(min(2.0, max(0.0, duration_s - elapsed)))  # the run's own length, not a wait
            final = locust.stats(self.api, self.namespace)
        finally:
            locust.stop(self.api, self.namespace)
        return TimedRun(final, f"svc/locust in {self.namespace}")

    def stats_source(self):
        return KubernetesLoadStats(self.api, self.namespace)
