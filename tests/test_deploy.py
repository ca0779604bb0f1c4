"""Deployment files: Kubernetes manifests against the Kubernetes schemas (offline), security
settings, KubeRay structure, the Dockerfile's shape and the alert rules' metric names.

Core kinds (Deployment, Service, NetworkPolicy) are validated strictly against
the JSON schemas `kubernetes-validate` ships. KubeRay's CRDs are not in those
schemas: their pod templates are validated as Kubernetes `PodTemplate`s, and
the CRD fields around them are checked by hand against what KubeRay requires.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from prometheus_client import generate_latest

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.30.0"
CORE_KINDS = {"Deployment", "Service", "NetworkPolicy"}


def documents() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((path.name, doc))
    return out


def pod_templates(doc: dict) -> list[dict]:
    """Every pod template of a manifest: a workload's, or each of a KubeRay resource's."""
    if doc["kind"] == "Deployment":
        return [doc["spec"]["template"]]
    if doc["kind"] == "RayCluster":
        spec = doc["spec"]
    elif doc["kind"] == "RayJob":
        spec = doc["spec"]["rayClusterSpec"]
    else:
        return []
    templates = [spec["headGroupSpec"]["template"]]
    templates += [g["template"] for g in spec["workerGroupSpecs"]]
    if doc["kind"] == "RayJob" and "submitterPodTemplate" in doc["spec"]:
        templates.append(doc["spec"]["submitterPodTemplate"])
    return templates


def test_manifests_cover_the_deployment():
    kinds = {doc["kind"] for _, doc in documents()}
    assert kinds == CORE_KINDS | {"RayCluster", "RayJob"}


@pytest.mark.parametrize("name,doc", [d for d in documents() if d[1]["kind"] in CORE_KINDS],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_core_manifests_validate_against_kubernetes_schemas(name, doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("name,doc", [d for d in documents() if pod_templates(d[1])],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_every_pod_template_is_valid_and_locked_down(name, doc):
    for template in pod_templates(doc):
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "PodTemplate",
                                      "metadata": {"name": "check"}, "template": template},
                                     K8S_VERSION, strict=True)
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
            assert not container["image"].endswith(":latest")


def test_live_deployment_has_probes_and_a_metrics_service():
    docs = {doc["kind"]: doc for _, doc in documents()}
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "metrics"
    service_ports = {p["name"] for p in docs["Service"]["spec"]["ports"]}
    assert "metrics" in service_ports
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    policy = docs["NetworkPolicy"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()


def _check_ray_cluster_spec(spec: dict) -> None:
    """The fields KubeRay's ray.io/v1 RayCluster CRD requires or the operator relies on."""
    assert re.fullmatch(r"\d+\.\d+\.\d+", spec["rayVersion"])
    head = spec["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict)
    assert head["template"]["spec"]["containers"]
    for group in spec["workerGroupSpecs"]:
        assert group["groupName"]
        assert isinstance(group["rayStartParams"], dict)
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert group["template"]["spec"]["containers"]


def test_kuberay_resources_have_the_crd_structure():
    docs = {doc["kind"]: doc for _, doc in documents()}
    for kind in ("RayCluster", "RayJob"):
        assert docs[kind]["apiVersion"] == "ray.io/v1"
        assert docs[kind]["metadata"]["name"]
    _check_ray_cluster_spec(docs["RayCluster"]["spec"])
    job = docs["RayJob"]["spec"]
    assert job["entrypoint"].startswith("tickaccel replay ")
    assert job["shutdownAfterJobFinishes"] is True
    _check_ray_cluster_spec(job["rayClusterSpec"])


def test_dockerfile_is_multi_stage_pinned_and_non_root():
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base)
    installs = re.search(r"RUN pip install \\\n(.*?)\n\S", text, re.DOTALL).group(1)
    packages = installs.replace("\\", " ").replace('"', " ").split()
    assert packages and all("==" in p for p in packages)
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert (ROOT / ".dockerignore").read_text().count(".venv")


@pytest.fixture(scope="module")
def exported_metrics(tmp_path_factory) -> set[str]:
    """The metric names a live receiver exports (counters with their _total, histogram series)."""
    from tickaccel.live.receiver import LiveReceiver

    receiver = LiveReceiver(("127.0.0.1", 0), tmp_path_factory.mktemp("metrics"))
    try:
        exported = generate_latest(receiver.metrics.registry).decode()
    finally:
        receiver.close()
    names = set(re.findall(r"^(tickaccel_\w+?)(?:\{| )", exported, re.MULTILINE))
    # A labelled family has no series before its first sample; its TYPE line names it.
    for family, kind in re.findall(r"^# TYPE (tickaccel_\w+) (\w+)$", exported, re.MULTILINE):
        suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        names.update(family + suffix for suffix in suffixes)
    return names


def test_alert_rules_use_metrics_the_receiver_exports(exported_metrics):
    names = exported_metrics
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {"TickaccelGapNotRecovered", "TickaccelLatencyP99High", "TickaccelFeedSilent"} <= {
        a["alert"] for a in alerts}
    for alert in alerts:
        used = set(re.findall(r"tickaccel_\w+", alert["expr"]))
        assert used and used <= names, (alert["alert"], used - names)


def test_grafana_dashboard_draws_metrics_the_receiver_exports(exported_metrics):
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "tickaccel-live.json").read_text())
    assert dashboard["uid"] and dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = set(re.findall(r"tickaccel_\w+", target["expr"]))
            assert used and used <= exported_metrics, (panel["title"], used - exported_metrics)
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "instance"} <= variables
