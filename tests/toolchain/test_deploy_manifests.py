"""deploy/k8s and the Dockerfile stay valid: every manifest parses, every process of
PalmGrid (the eight services, the worker with its jobs API, the edge) has a Deployment with startup,
readiness and liveness probes on ports it really listens on, the settings the manifests
set exist and are documented, and the migrate Job runs `python -m servers.migrate`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from servers.runtime.settings import GRPC_PORTS, SERVICE_PORTS, Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "k8s"
PROCESSES = (*GRPC_PORTS, "edge")
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def _documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert isinstance(document, dict), f"{path.name}: a document that is not a mapping"
            for key in ("apiVersion", "kind", "metadata"):
                assert key in document, f"{path.name}: {document.get('kind')} without {key}"
            found.append(document)
    return found


DOCUMENTS = _documents()


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in DOCUMENTS if d["kind"] == kind}


def _container(process: str) -> dict[str, Any]:
    deployment = _of_kind("Deployment")[process]
    pod = deployment["spec"]["template"]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    )
    (container,) = pod["spec"]["containers"]
    mounted = {mount["name"] for mount in container.get("volumeMounts", [])}
    assert mounted <= {volume["name"] for volume in pod["spec"]["volumes"]}
    return container


def _env(container: dict[str, Any]) -> dict[str, str]:
    config = _of_kind("ConfigMap")["palmgrid-config"]["data"]
    own = {e["name"]: e.get("value", "<secret>") for e in container.get("env", [])}
    return {**config, **own}


def _ports(container: dict[str, Any]) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in container.get("ports", [])}


def _probe_port(probe: dict[str, Any], ports: dict[str, int]) -> int | None:
    for kind in ("httpGet", "tcpSocket"):
        if kind in probe:
            port = probe[kind]["port"]
            return ports[port] if isinstance(port, str) else int(port)
    return None


@pytest.mark.parametrize("process", PROCESSES)
def test_every_process_has_a_deployment_with_probes(process: str) -> None:
    assert process in _of_kind("Deployment"), f"no Deployment for {process}"
    container = _container(process)
    for probe in PROBES:
        assert probe in container, f"{process}: no {probe}"
    ports = _ports(container)
    for probe in PROBES:
        port = _probe_port(container[probe], ports)
        assert port is None or port in ports.values(), f"{process}: {probe} on a closed port"


@pytest.mark.parametrize("process", list(GRPC_PORTS))
def test_a_service_listens_where_it_is_reached_and_is_probed_over_mtls(process: str) -> None:
    container = _container(process)
    command = ["python", "-m", f"servers.{process}"]
    # The worker runs its jobs and serves their API (palmgrid.worker.v1) in one process.
    assert container["command"] == ([*command, "run"] if process == "worker" else command)
    env = _env(container)
    settings = Settings(
        listen_host=env["PALMGRID_LISTEN_HOST"],
        **{f"{process}_metrics_port": int(env[f"PALMGRID_{process.upper()}_METRICS_PORT"])},
    )
    ports = _ports(container)
    assert ports == {
        "grpc": settings.service(process).port,
        "metrics": settings.metrics_port(process),
    }
    assert env["PALMGRID_LISTEN_HOST"] == env["PALMGRID_METRICS_HOST"] == "0.0.0.0"
    service = _of_kind("Service")[process]
    exposed = {port["port"] for port in service["spec"]["ports"]}
    assert ports["grpc"] in exposed
    assert env[f"PALMGRID_{process.upper()}_TARGET"] == f"{process}:{ports['grpc']}"
    check = ["python", "-m", "servers.healthcheck", process]
    assert container["readinessProbe"]["exec"]["command"] == check
    assert container["startupProbe"]["exec"]["command"] == check


def test_the_edge_listens_on_its_port_and_reaches_each_upstream_where_it_listens() -> None:
    edge = _container("edge")
    listen = edge["command"][edge["command"].index("--listen") + 1]
    assert _ports(edge) == {"https": int(listen.rpartition(":")[2])}
    upstreams = [edge["command"][i + 1] for i, a in enumerate(edge["command"]) if a == "--upstream"]
    for upstream in upstreams:
        process, _, port = upstream.partition("=")[2].partition(":")
        assert GRPC_PORTS[process] == int(port), upstream


def test_the_migrate_job_runs_the_migrate_command() -> None:
    job = _of_kind("Job")["migrate"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "servers.migrate"]
    assert _env(container)["PALMGRID_PROFILE"] == "production"


def test_every_variable_set_is_documented() -> None:
    docs = "\n".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    text = "\n".join(p.read_text() for p in MANIFESTS.glob("*.yaml"))
    services = "|".join(name.upper() for name in SERVICE_PORTS)
    for name in sorted(set(re.findall(r"PALMGRID_[A-Z0-9_]+", text))):
        generic = re.sub(rf"^PALMGRID_({services})_", "PALMGRID_<SERVICE>_", name)
        assert f"`{name}`" in docs or f"`{generic}`" in docs, f"{name} undocumented"


def test_the_image_installs_the_lock_file_and_ships_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r requirements/lock.txt" in dockerfile
    for package in ("cachetags", "clients", "edge", "generated", "palmlib", "servers"):
        assert f"COPY {package} {package}" in dockerfile
    images = {
        c["image"]
        for d in _of_kind("Deployment").values()
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert len(images) == 1, f"one image for every process, found {images}"
