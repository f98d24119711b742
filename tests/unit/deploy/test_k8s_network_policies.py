"""The k8s manifests admit ingress to each service from the gateway only (and, for the
services that charge fees, from payments_mock's webhook deliveries), on the service's port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs

K8S = Path(__file__).parents[3] / "deploy" / "k8s"
SERVICES = {
    "e-application": ({"gateway", "payments-mock"}, 8001),
    "facility-booking": ({"gateway", "payments-mock"}, 8002),
    "alert-mail": ({"gateway"}, 8003),
    "payments-mock": ({"gateway"}, 8004),
}


def _documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    documents: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        documents.extend(d for d in yaml.safe_load_all((K8S / resource).read_text()) if d)
    return documents


def test_each_service_admits_only_the_gateway() -> None:
    documents = _documents()
    policies = [d for d in documents if d["kind"] == "NetworkPolicy"]
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    for name, (sources, port) in SERVICES.items():
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        covering = [
            p
            for p in policies
            if p["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
        ]
        assert len(covering) == 1, name
        spec = covering[0]["spec"]
        assert spec["policyTypes"] == ["Ingress"]
        (rule,) = spec["ingress"]
        admitted = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]
        }
        assert admitted == sources, name
        assert all(set(peer) == {"podSelector"} for peer in rule["from"])  # no namespace/ip
        assert rule["ports"] == [{"protocol": "TCP", "port": port}]
    gateway_labels = deployments["gateway"]["spec"]["template"]["metadata"]["labels"]
    assert not [
        p
        for p in policies
        if p["spec"]["podSelector"]["matchLabels"].items() <= gateway_labels.items()
    ]  # the gateway is the front door
