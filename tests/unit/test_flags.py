from chaoslab.services.common.flags import Flags
from chaoslab.settings import Payment, load


def flags() -> Flags:
    return Flags("payment", load(Payment, {}))


def test_every_deploy_is_a_new_version():
    f = flags()
    f.push("deploy:1", {"money_math": "decimal"})  # same value as the baseline: still a deploy
    assert f.version.endswith("+r1")
    f.push("fault:f-1", {"money_math": "float"})
    assert f.version.endswith("+r2") and f.get("money_math") == "float"


def test_a_removal_is_a_new_version_only_when_a_value_changes():
    f = flags()
    f.push("fault:f-1", {"money_math": "float"})
    f.push("deploy:1", {"money_math": "decimal"})  # the fix rolls forward over the bad deploy
    assert f.pop("fault:f-1") == {} and f.version.endswith("+r2")  # nothing effective changed
    assert f.pop("fault:f-1") is None
    assert f.reset() == (1, {}) and f.version.endswith("+r2")


def test_a_reset_with_nothing_to_reset_changes_no_version():
    """It once bumped the revision silently and the change feed went r1, r2, r4."""
    f = flags()
    assert f.reset() == (0, {}) and f.revision == 0
    f.push("fault:f-1", {"money_math": "float"})
    assert f.reset() == (1, {"money_math": "decimal"}) and f.version.endswith("+r2")
