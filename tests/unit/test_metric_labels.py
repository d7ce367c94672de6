"""A process's own service and team labels go on every sample of its exposition, escaped, exactly once."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from chaoslab.telemetry import metrics


def test_every_sample_gets_the_process_labels_once_and_escaped(monkeypatch):
    monkeypatch.setattr(metrics._OWN, "text", b"")
    metrics.HTTP_REQUESTS.labels("GET", "/labels-test", "200").inc()
    plain = metrics.exposition().decode()
    metrics.describe_process("service-a", 'red "team"\n2')
    labelled = metrics.exposition().decode()
    samples = [s for family in text_string_to_metric_families(labelled) for s in family.samples]
    assert samples and all(s.labels["service"] == "service-a" for s in samples)
    assert all(s.labels["team"] == 'red "team"\n2' for s in samples), "escaped in the text, intact once parsed"
    plain_samples = [s for family in text_string_to_metric_families(plain) for s in family.samples]
    assert len(samples) == len(plain_samples), "labels added, no sample added or lost"
    (request,) = [s for s in samples if s.labels.get("route") == "/labels-test"]
    assert request.labels == {
        "service": "service-a",
        "team": 'red "team"\n2',
        "method": "GET",
        "route": "/labels-test",
        "status": "200",
    }
    assert "version" in next(s for s in samples if s.name == "chaoslab_build_info").labels


def test_a_deploy_bumps_the_version_and_the_exposition_stays_valid(monkeypatch):
    from chaoslab.services.common.flags import Flags
    from chaoslab.settings import Payment

    monkeypatch.setattr(metrics._OWN, "text", b"")
    metrics.describe_process("payment", "red")
    Flags("payment", Payment(), "red").push("deploy-1", {"money_math": "float"})
    (build,) = [
        s
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for s in family.samples
        if s.name == "chaoslab_build_info"
    ]
    assert build.labels == {"service": "payment", "team": "red", "version": build.labels["version"]}
    assert build.labels["version"].endswith("+r1")
