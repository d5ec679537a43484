"""Fixed gateway NodePorts: dev publishes them (kind maps them to the host), others do not."""

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from mlplatform.graph import CHART
from tests.conftest import assert_rejected, stack_config


def test_dev_gateway_uses_the_configured_node_ports(program):
    service = program("dev").named("istio-ingressgateway", CHART).inputs["values"]["service"]
    ports = {p["name"]: p for p in service["ports"]}
    assert service["type"] == "NodePort"
    assert (ports["http2"]["port"], ports["http2"]["nodePort"]) == (80, 30080)
    assert (ports["https"]["port"], ports["https"]["nodePort"]) == (443, 30443)
    assert "nodePort" not in ports["status-port"]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_other_environments_keep_the_chart_ports(program, env):
    service = program(env).named("istio-ingressgateway", CHART).inputs["values"]["service"]
    assert service == {"type": "LoadBalancer"}


BAD = {
    "node ports on a LoadBalancer": (
        {"gatewayServiceType": "LoadBalancer", "gatewayNodePorts": {"http": 30080}},
        "platform.components.istio.gatewayNodePorts: gatewayNodePorts needs gatewayServiceType NodePort "
        "(got LoadBalancer)",
    ),
    "same port twice": (
        {"gatewayNodePorts": {"http": 30443, "https": 30443}},
        "platform.components.istio.gatewayNodePorts.https: http and https must differ (both 30443)",
    ),
    "outside the NodePort range": (
        {"gatewayNodePorts": {"http": 8080}},
        "platform.components.istio.gatewayNodePorts.http: Input should be greater than or equal "
        "to 30000",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_node_ports_rejected_before_any_resource(case):
    istio, expected = BAD[case]
    cfg = stack_config("dev")
    cfg["platform"]["components"]["istio"].update(istio)
    assert_rejected(cfg, expected)
