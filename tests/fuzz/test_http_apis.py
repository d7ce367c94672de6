"""Schemathesis against service-a's public API and a fault agent's admin API, each loaded from the
OpenAPI document the API itself serves at /openapi.json. Valid and invalid requests alike must get a
JSON answer below 500; a 4xx must say what is wrong in one line."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from chaoslab.chaos.agent import FaultAgent
from chaoslab.chaos.agent_api import create_admin_app
from chaoslab.services.common.flags import Flags
from chaoslab.settings import ServiceA, load
from chaoslab.wsgi import HttpServer

EXAMPLES = {"service-a": 100, "admin": 60}
"""Examples per operation and generation mode: the budget (about a minute for the whole folder)."""
TOKEN = "fuzz-token"


def fuzz(api: str, schema, base_url: str, sent, headers: dict | None = None, after=lambda: None) -> None:
    """Every operation of ``schema``, positive and negative, EXAMPLES[api] cases each; fails listing the
    first bad answer of every operation that had one."""
    failures = [
        failure
        for result in schema.get_all_operations()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := fuzz_operation(api, result.ok(), mode, base_url, sent, headers, after))
    ]
    assert not failures, "\n".join(failures)


def fuzz_operation(api, operation, mode, base_url, sent, headers, after) -> str | None:
    found: list[str] = []

    @settings(
        max_examples=EXAMPLES[api],
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def run(case):
        try:
            response = case.call(base_url=base_url, headers=headers, timeout=15)
        except (requests.exceptions.InvalidHeader, UnicodeEncodeError, ValueError):
            return  # a request the HTTP client itself refuses to send never reaches the server
        finally:
            after()
        sent[f"{api} {operation.label}"] += 1
        problem = judged(response)
        if problem:
            found.append(f"{case.method} {case.formatted_path} ({mode.value}): {problem}")
            raise AssertionError(found[-1])

    try:
        run()
    except AssertionError:
        pass
    except Unsatisfiable:
        pass  # nothing in the operation can be made invalid (GET /products takes no input)
    return found[0] if found else None


def judged(response: requests.Response) -> str | None:
    """What is wrong with an answer, or None."""
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        try:
            message = response.json()["message"]
        except (ValueError, KeyError, TypeError):
            return f"{response.status_code} without a JSON message: {response.text[:200]}"
        if not isinstance(message, str) or "\n" in message:
            return f"{response.status_code} message is not one line: {message!r}"
    return None


def test_service_a_public_api(lab, sent):
    base = lab.url("service-a")
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    fuzz("service-a", schema, base, sent)


@pytest.fixture
def admin():
    agent = FaultAgent("service-a", Flags("service-a", load(ServiceA, {})), exit_process=lambda code: None)
    agent.route_sources.append(lambda: ["/checkout", "/orders"])
    server = HttpServer(create_admin_app(agent, TOKEN), "127.0.0.1", 0, 4, "admin").start()
    yield agent, server.url
    server.stop()
    agent.close()


def test_fault_agent_admin_api(admin, sent):
    agent, base = admin
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    # reset after every request: a fuzzed cpu_burn, memory_leak or crash must not outlive its case
    fuzz("admin", schema, base, sent, headers={"Authorization": f"Bearer {TOKEN}"}, after=agent.reset)
    assert agent._sweeper.is_alive()
