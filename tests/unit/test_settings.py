import pytest

from chaoslab import settings
from chaoslab.settings import Common, Local, ServiceA, ServiceC, SettingsError, load
from chaoslab.topology import COMPONENTS


def test_defaults_load_from_an_empty_environment():
    for group in settings.ALL_GROUPS:
        load(group, {})


def test_environment_overrides_with_types():
    loaded = load(
        ServiceA,
        {
            "SERVICE_A_HANDLER_THREADS": "3",
            "SERVICE_A_ORDERS_QUERY": "n_plus_one",
            "SERVICE_A_PAYMENT_TIMEOUT_S": "0.5",
        },
    )
    assert (loaded.handler_threads, loaded.orders_query, loaded.payment_timeout_s) == (3, "n_plus_one", 0.5)
    assert load(Common, {"CHAOSLAB_ACCESS_LOG": "off"}).access_log is False


@pytest.mark.parametrize(
    "variable,value,expected",
    [
        ("SERVICE_A_HANDLER_THREADS", "many", "SERVICE_A_HANDLER_THREADS='many': expected an integer"),
        ("SERVICE_A_HANDLER_THREADS", "0", "must be between 1 and 256"),
        ("SERVICE_A_ORDERS_QUERY", "fast", "expected one of batched, n_plus_one"),
        ("SERVICE_A_PAYMENT_TIMEOUT_S", "-1", "must be between 0 and 600"),
    ],
)
def test_bad_values_name_the_variable_and_the_allowed_range(variable, value, expected):
    with pytest.raises(SettingsError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load(ServiceA, {variable: value})


def test_bool_parsing_rejects_nonsense():
    with pytest.raises(SettingsError, match="expected true or false"):
        load(Common, {"CHAOSLAB_ACCESS_LOG": "maybe"})


def test_every_component_has_a_settings_group_with_its_env_prefix_and_ports():
    for component in COMPONENTS:
        group = settings.SERVICE_SETTINGS[component.name]
        assert group.prefix == component.env_prefix
        defaults = load(group, {})
        for port_name, port in component.ports.items():
            assert getattr(defaults, f"{port_name}_port") == port


def test_peer_defaults_point_at_the_documented_ports():
    assert load(ServiceC, {}).service_a_url == "http://127.0.0.1:8080"
    assert load(ServiceA, {}).service_b_addr == "127.0.0.1:50051"


def test_local_state_dir_default():
    assert load(Local, {}).state_dir == ".chaoslab"
