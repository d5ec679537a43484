"""tests/pod_security.py refuses what each Pod Security level refuses."""

import copy

from tests import pod_security

RESTRICTED_POD = {
    "metadata": {},
    "spec": {
        "containers": [
            {
                "name": "c",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": [{"name": "config", "configMap": {"name": "x"}}],
    },
}


def test_a_restricted_pod_fits_every_level():
    for level in ("restricted", "baseline", "privileged"):
        assert pod_security.problems(RESTRICTED_POD, level) == []


def test_pod_level_settings_count_unless_the_container_overrides_them():
    pod = copy.deepcopy(RESTRICTED_POD)
    sc = pod["spec"]["containers"][0]["securityContext"]
    del sc["runAsNonRoot"], sc["seccompProfile"]
    pod["spec"]["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "Localhost"}}
    assert pod_security.problems(pod, "restricted") == []
    sc["runAsNonRoot"] = False
    assert pod_security.problems(pod, "restricted") == ["container c: runAsNonRoot is not true"]


def test_a_bare_container_is_baseline_but_not_restricted():
    bare = {"metadata": {}, "spec": {"containers": [{"name": "c"}]}}
    assert pod_security.problems(bare, "baseline") == []
    assert pod_security.problems(bare, "restricted") == [
        "container c: allowPrivilegeEscalation is not false",
        "container c: runAsNonRoot is not true",
        "container c: no RuntimeDefault or Localhost seccomp profile",
        "container c: capabilities do not drop ALL",
    ]


def test_what_baseline_refuses():
    pod = copy.deepcopy(RESTRICTED_POD)
    pod["spec"]["hostNetwork"] = True
    pod["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    container = pod["spec"]["containers"][0]
    container["securityContext"].update(privileged=True, capabilities={"add": ["NET_ADMIN"]})
    container["ports"] = [{"containerPort": 80, "hostPort": 80}]
    assert pod_security.problems(pod, "baseline") == [
        "hostNetwork",
        "volume host: hostPath",
        "container c: privileged",
        "container c: adds capabilities ['NET_ADMIN']",
        "container c: hostPort",
    ]
    assert pod_security.problems(pod, "privileged") == []
    assert "volume host: ['hostPath']" in pod_security.problems(pod, "restricted")
