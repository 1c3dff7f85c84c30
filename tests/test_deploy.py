"""The files for running many replicas elsewhere: what can be checked here.

No container runtime or cluster is at hand, so the Kubernetes manifests are
checked against the Kubernetes schemas (``kubernetes-validate``, which ships
them) and for what the classroom needs of them; the Dockerfile for what the
issue asks of it. The proxy configuration's ``nginx -t`` is in
tests/test_classroom.py.
"""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml

from tests.browser_support import ROOT

MANIFEST = ROOT / "deploy" / "kubernetes" / "gradient-flow-lab.yaml"
DOCKERFILE = ROOT / "Dockerfile"


def _documents() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFEST.read_text())}


@pytest.mark.parametrize("kind", ["PersistentVolumeClaim", "Deployment", "Service", "Ingress"])
def test_each_manifest_matches_the_kubernetes_schema(kind):
    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(_documents()[kind], version, strict=True)


def test_the_schema_check_refuses_a_broken_manifest():
    deployment = _documents()["Deployment"]
    deployment["spec"]["replicas"] = "four"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_the_pods_share_the_upload_store_and_one_cookie_secret():
    pod = _documents()["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert env["GFL_UPLOAD_STORE"]["value"] == mounts["uploads"]
    claim = pod["volumes"][0]["persistentVolumeClaim"]["claimName"]
    store = _documents()["PersistentVolumeClaim"]
    assert (claim, store["spec"]["accessModes"]) == (store["metadata"]["name"], ["ReadWriteMany"])
    assert "secretKeyRef" in env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health"
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_ingress_keeps_a_browser_on_one_pod_by_cookie():
    ingress = _documents()["Ingress"]
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600  # websockets
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == _documents()["Service"]["metadata"]["name"]


def test_the_dockerfile_is_slim_pinned_non_root_and_healthchecked():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "pip install -r requirements.txt" in text
    requirements = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[\w.-]+==[\w.]+", line) for line in requirements), requirements
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/_stcore/health", text, re.M)
