import pytest

from chaoslab.chaos.faults import BAD_DEPLOYS, KINDS, MAX_TTL_S, FaultSpecError, parse_cli_params, validate
from chaoslab.settings import SERVICE_SETTINGS, coerce


def test_defaults_are_filled_and_expiry_computed():
    fault = validate({"kind": "latency", "service": "service-b", "peer": "service-c"}, now=1000.0)
    assert fault.params == {"ms": 500.0, "jitter_ms": 0.0, "probability": 1.0}
    assert (fault.ttl_s, fault.expires_at) == (600.0, 1600.0)
    assert fault.id.startswith("f-") and fault.where == "service-b → service-c"


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"kind": "lag", "service": "service-a"}, "kind='lag': must be one of latency"),
        ({"kind": "latency", "service": "service-z", "peer": "x"}, "service='service-z': must be one of"),
        ({"kind": "latency", "service": "service-b"}, "needs exactly one of route"),
        ({"kind": "latency", "service": "service-b", "route": "Reserve", "peer": "service-c"}, "exactly one of"),
        ({"kind": "latency", "service": "service-b", "peer": "payment"}, "peer='payment': service-b calls service-c"),
        (
            {"kind": "latency", "service": "service-b", "peer": "service-c", "params": {"ms": 70000}},
            r"params.ms=70000: must be a number from 0 to 60000",
        ),
        (
            {"kind": "latency", "service": "service-b", "peer": "service-c", "params": {"ms": "fast"}},
            "params.ms='fast'",
        ),
        (
            {"kind": "latency", "service": "service-b", "peer": "service-c", "params": {"probability": 1.5}},
            "params.probability=1.5: must be a number from 0 to 1",
        ),
        (
            {"kind": "latency", "service": "service-b", "peer": "service-c", "params": {"delay": 1}},
            "params.delay: latency takes jitter_ms, ms, probability",
        ),
        (
            {"kind": "error", "service": "service-a", "route": "/checkout", "params": {"status": 200}},
            "params.status=200: must be a whole number from 400 to 599",
        ),
        (
            {"kind": "error", "service": "service-b", "route": "Reserve", "params": {"grpc_code": "OK"}},
            "params.grpc_code='OK': must be one of",
        ),
        ({"kind": "deadlock", "service": "service-a"}, "deadlock applies to service-c"),
        ({"kind": "worker_stall", "service": "worker", "peer": "redis"}, "takes no route or peer"),
        ({"kind": "partition", "service": "worker", "peer": "x"}, "partition applies to"),
        ({"kind": "db_outage", "service": "service-b"}, "db_outage applies to"),
        (
            {"kind": "bad_deploy", "service": "service-b", "params": {"change": "float_money"}},
            "does not apply to service-b",
        ),
        ({"kind": "crash", "service": "worker", "params": {"mode": "sometimes"}}, "params.mode='sometimes'"),
        ({"kind": "crash", "service": "worker", "ttl_s": 0}, "ttl_s=0: must be seconds from 1 to 7200"),
        ({"kind": "crash", "service": "worker", "ttl_s": MAX_TTL_S + 1}, "ttl_s=7201"),
        ({"kind": "crash", "service": "worker", "target": "x"}, "unknown field 'target'"),
        ("latency", "must be a mapping"),
    ],
)
def test_bad_specs_name_the_field_and_the_allowed_values(spec, message):
    with pytest.raises(FaultSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate(spec)


def test_every_kind_validates_with_its_defaults_on_each_service_it_names():
    for kind in KINDS.values():
        for service in kind.services:
            spec = {"kind": kind.name, "service": service}
            if kind.scope in ("peer", "route_or_peer"):
                from chaoslab.chaos.faults import peers_of

                if not peers_of(service):
                    spec["route"] = "*"
                else:
                    spec["peer"] = peers_of(service)[0]
            if kind.name == "bad_deploy":
                spec["params"] = {"change": next(c for c, s in BAD_DEPLOYS.items() if service in s)}
            validate(spec)


def test_bad_deploys_only_change_runtime_settings_with_valid_values():
    for per_service in BAD_DEPLOYS.values():
        for service, settings in per_service.items():
            for name, value in settings.items():
                coerce(SERVICE_SETTINGS[service], name, value)


def test_cli_params():
    assert parse_cli_params(("ms=500", "probability = 0.5")) == {"ms": "500", "probability": "0.5"}
    with pytest.raises(FaultSpecError, match="write it as name=value"):
        parse_cli_params(("500",))
