"""The HTTP contract every API of the lab keeps on its errors, on the running lab: a method a route does
not take is a 405 that says, in ``Allow``, which ones it does (RFC 9110, 15.5.6)."""

from __future__ import annotations

import pytest
import requests

from chaoslab.topology import FRONT_DOOR, SERVICE_NAMES


def allowed(response: requests.Response) -> set[str]:
    return {method.strip() for method in response.headers.get("Allow", "").split(",") if method.strip()}


def refused(response: requests.Response, method: str, takes: set[str]) -> None:
    assert response.status_code == 405, response.text
    assert takes <= allowed(response) and method not in allowed(response), response.headers
    assert response.headers["Content-Type"].startswith("application/json") and response.json()["message"]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_answers_a_wrong_method_with_405_and_allow(lab, name):
    refused(requests.delete(lab.url(name) + "/health/live", timeout=10), "DELETE", {"GET"})


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_fault_agent_answers_a_wrong_method_with_405_and_allow(lab, name):
    admin = f"http://127.0.0.1:{lab.process(name)['ports']['admin']}"
    token = (lab.state_dir / "token").read_text().strip()
    response = requests.put(admin + "/faults", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    refused(response, "PUT", {"GET", "POST"})


def test_the_front_door_names_the_one_method_checkout_takes(lab):
    refused(requests.get(lab.url(FRONT_DOOR) + "/checkout", timeout=10), "GET", {"POST"})
