"""The controller's own authorisation rule, directly (tests/kubernetes/test_teams.py checks it with a
real API server and real RBAC)."""

import pytest

from chaoslab.chaos.kubernetes.identity import Identity, NotAllowed, authorize

RED = {"chaoslab.io/team": "red"}
BLUE = {"chaoslab.io/team": "blue"}


def test_a_team_service_account_acts_only_in_its_namespace():
    red_trainee = Identity("system:serviceaccount:chaoslab-red:trainee", ("system:serviceaccounts",))
    assert authorize(red_trainee, "chaoslab-red", RED) == "red"
    with pytest.raises(NotAllowed, match="belongs to namespace chaoslab-red and may not touch chaoslab-blue"):
        authorize(red_trainee, "chaoslab-blue", BLUE)


def test_a_team_member_acts_only_on_the_namespace_labelled_with_their_team():
    alice = Identity("alice", ("chaoslab:team:red", "system:authenticated"))
    assert authorize(alice, "chaoslab-red", RED) == "red"
    with pytest.raises(NotAllowed, match=r"alice is not in team blue .*member of red"):
        authorize(alice, "chaoslab-blue", BLUE)
    with pytest.raises(NotAllowed, match="ask an instructor"):
        authorize(Identity("bob"), "chaoslab-blue", BLUE)


@pytest.mark.parametrize(
    "instructor",
    [
        Identity("ingrid", ("chaoslab:instructors",)),
        Identity("system:serviceaccount:chaoslab-platform:instructor"),
        Identity("admin", ("system:masters",)),
        # kind's (kubeadm's) admin kubeconfig since Kubernetes 1.29: not in system:masters
        Identity("kubernetes-admin", ("kubeadm:cluster-admins", "system:authenticated")),
    ],
)
def test_instructors_act_on_every_team(instructor):
    assert authorize(instructor, "chaoslab-red", RED) == "red"
    assert authorize(instructor, "chaoslab-blue", BLUE) == "blue"


def test_unlabelled_namespaces_are_refused_to_everyone():
    for who in (Identity("admin", ("system:masters",)), Identity("system:serviceaccount:kube-system:trainee")):
        with pytest.raises(NotAllowed, match="not a chaoslab team namespace"):
            authorize(who, "kube-system", {})
