"""The Kubernetes actuator against a real API server (K3s in Docker, via testcontainers).

Runs only where a Docker daemon answers; the HTTP-level tests in
``test_k8s_actuator.py`` cover the same requests everywhere else.
"""

from __future__ import annotations

import time

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from perfcore.scaling.k8s import KubernetesActuator, ManagedByHpa

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# K3s ships this image in its airgap bundle, so no registry pull is needed.
PAUSE_IMAGE = "rancher/mirrored-pause:3.6"


def _deployment(name: str) -> k8s.V1Deployment:
    labels = {"app": name}
    return k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V1DeploymentSpec(
            replicas=1,
            selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels),
                spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="app", image=PAUSE_IMAGE)]),
            ),
        ),
    )


def test_scales_a_real_deployment_and_refuses_one_under_an_hpa() -> None:
    from testcontainers.community.k3s import K3SContainer

    with K3SContainer() as cluster:
        configuration = k8s.Configuration()
        k8s_config.load_kube_config_from_dict(
            yaml.safe_load(cluster.config_yaml()), client_configuration=configuration
        )
        api = k8s.ApiClient(configuration)
        apps = k8s.AppsV1Api(api)
        deadline = time.monotonic() + 60
        while True:  # the default service account appears shortly after the API
            try:
                apps.create_namespaced_deployment("default", _deployment("web"))
                break
            except k8s.ApiException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

        actuator = KubernetesActuator("default", "web", api_client=api)
        actuator.scale(3)
        assert apps.read_namespaced_deployment_scale("web", "default").spec.replicas == 3
        assert actuator.status().current == 3

        hpa = k8s.V2HorizontalPodAutoscaler(
            metadata=k8s.V1ObjectMeta(name="web"),
            spec=k8s.V2HorizontalPodAutoscalerSpec(
                scale_target_ref=k8s.V2CrossVersionObjectReference(
                    api_version="apps/v1", kind="Deployment", name="web"
                ),
                min_replicas=1,
                max_replicas=5,
            ),
        )
        k8s.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler("default", hpa)
        with pytest.raises(ManagedByHpa):
            actuator.scale(2)
        actuator.close()
