"""The Kubernetes actuator over real HTTP: exact requests of the official client."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_apiserver import ApiServer, ApiState
from kubernetes import client as k8s

from perfcore.scaling.k8s import KubernetesActuator, ManagedByHpa

SCALE = "/apis/apps/v1/namespaces/web/deployments/api/scale"
STATUS = "/apis/apps/v1/namespaces/web/deployments/api/status"
HPAS = "/apis/autoscaling/v2/namespaces/web/horizontalpodautoscalers"


@pytest.fixture
def server() -> Iterator[ApiServer]:
    srv = ApiServer(ApiState(replicas=3, ready=2))
    yield srv
    srv.close()


def actuator(server: ApiServer, sleeps: list[float] | None = None) -> KubernetesActuator:
    configuration = k8s.Configuration(host=server.url)
    return KubernetesActuator(
        "web",
        "api",
        api_client=k8s.ApiClient(configuration),
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
    )


def test_status_reads_the_scale_subresource_and_ready_replicas(server: ApiServer) -> None:
    status = actuator(server).status()
    assert (status.current, status.ready) == (3, 2)
    assert [(r.method, r.path) for r in server.requests()] == [("GET", SCALE), ("GET", STATUS)]


def test_scale_checks_hpas_then_patches_the_scale_subresource(server: ApiServer) -> None:
    actuator(server).scale(7)
    assert [(r.method, r.path) for r in server.requests()] == [("GET", HPAS), ("PATCH", SCALE)]
    patch = server.requests("PATCH")[0]
    # What the official client really sends for a dict body: a strategic merge patch.
    assert patch.headers["content-type"] == "application/strategic-merge-patch+json"
    assert patch.body == {"spec": {"replicas": 7}}
    assert patch.query == {"fieldManager": ["perfcore-autoscaler"]}
    assert server.state.replicas == 7


def test_refuses_a_deployment_that_an_hpa_already_targets(server: ApiServer) -> None:
    server.state.hpa_targets = ["other", "api"]
    with pytest.raises(ManagedByHpa, match="api-hpa"):
        actuator(server).scale(5)
    assert server.requests("PATCH") == []
    assert server.state.replicas == 3


def test_an_hpa_on_another_deployment_is_fine(server: ApiServer) -> None:
    server.state.hpa_targets = ["other"]
    actuator(server).scale(4)
    assert server.state.replicas == 4


def test_retries_conflicts_and_server_errors_with_backoff(server: ApiServer) -> None:
    server.state.fail_next = [409, 503]
    sleeps: list[float] = []
    actuator(server, sleeps).scale(6)
    assert len(server.requests("PATCH")) == 3
    assert sleeps == [0.5, 1.0]
    assert server.state.replicas == 6


def test_client_errors_are_not_retried(server: ApiServer) -> None:
    server.state.deployment = "renamed"  # the actuator's target now 404s
    with pytest.raises(k8s.ApiException) as info:
        actuator(server).status()
    assert info.value.status == 404
    assert len(server.requests("GET")) == 1


def test_gives_up_after_the_last_attempt(server: ApiServer) -> None:
    server.state.fail_next = [500, 500, 500, 500, 500]
    with pytest.raises(k8s.ApiException):
        actuator(server).scale(6)
    assert len(server.requests("PATCH")) == 4
    assert server.state.replicas == 3


def kubeconfig(tmp_path: Path, server: ApiServer) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "local", "cluster": {"server": server.url}}],
                "users": [{"name": "ops", "user": {"token": "s3cret"}}],
                "contexts": [{"name": "c", "context": {"cluster": "local", "user": "ops"}}],
                "current-context": "c",
            }
        )
    )
    return path


def scale_run(tmp_path: Path, server: ApiServer, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [
        *("scale", "run", "--policy", "target-tracking", "--actuator", "k8s"),
        *("--namespace", "web", "--deployment", "api", "--interval", "0.1"),
        *("--kubeconfig", str(kubeconfig(tmp_path, server)), "--prometheus", server.url),
        *("--max-steps", "1", "--json", "--out", str(tmp_path / "out"), *extra),
    ]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no in-cluster service account
    return subprocess.run(
        [sys.executable, "-m", "perfcore", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_cli_loop_reads_prometheus_and_scales_the_deployment(
    tmp_path: Path, server: ApiServer
) -> None:
    server.state.ready = 3
    server.state.prometheus = {"container_cpu_usage_seconds_total": 0.9}
    done = scale_run(tmp_path, server)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["scaling_actions"] == 1 and summary["last_replicas"] == 5  # ceil(3 * 0.9 / 0.6)
    assert server.state.replicas == 5
    patch = server.requests("PATCH")[0]
    assert patch.headers["authorization"] == "Bearer s3cret"
    lines = (tmp_path / "out" / "decisions.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    assert record["metrics"]["cpu"] == 0.9 and record["outcome"] == "applied"
    assert record["decision"] == {"replicas": 5, "action": "scale_up", "recommended": 5}


def test_cli_dry_run_decides_but_never_patches(tmp_path: Path, server: ApiServer) -> None:
    server.state.ready = 3
    server.state.prometheus = {"container_cpu_usage_seconds_total": 0.9}
    done = scale_run(tmp_path, server, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dry_run"] is True
    assert server.requests("PATCH") == []
    record = json.loads((tmp_path / "out" / "decisions.jsonl").read_text().splitlines()[0])
    assert record["outcome"] == "dry-run: not applied"
    assert record["decision"]["action"] == "scale_up"


def test_cli_refuses_an_hpa_managed_deployment_with_exit_1(
    tmp_path: Path, server: ApiServer
) -> None:
    server.state.hpa_targets = ["api"]
    done = scale_run(tmp_path, server, "--dry-run")
    assert done.returncode == 1
    assert "HorizontalPodAutoscaler" in done.stderr and "Traceback" not in done.stderr
    assert server.requests("PATCH") == []
