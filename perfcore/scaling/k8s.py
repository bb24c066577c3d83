"""The Kubernetes actuator: a Deployment's ``scale`` subresource, via the official client.

It reads ``GET apps/v1 .../deployments/{name}/scale`` (desired replicas) and
``.../deployments/{name}/status`` (ready replicas), and patches the scale
subresource. Conflicts (409) and server errors (5xx) are retried with backoff.

It refuses to manage a Deployment that an ``autoscaling/v2``
HorizontalPodAutoscaler already targets: two controllers writing the same
``spec.replicas`` undo each other every few seconds, a classic outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from perfcore.errors import CheckFailed, ServiceUnavailable
from perfcore.scaling.actuators import ReplicaStatus

FIELD_MANAGER = "perfcore-autoscaler"
T = TypeVar("T")


class ManagedByHpa(CheckFailed):
    """The Deployment already has an HPA; scaling it too would fight that controller."""


def api_client_from_environment(
    kubeconfig: str | None = None, context: str | None = None
) -> k8s.ApiClient:
    """In-cluster service-account config when running in a pod, else the kubeconfig."""
    configuration = k8s.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except k8s_config.ConfigException:
        try:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
        except (k8s_config.ConfigException, OSError) as exc:
            raise ServiceUnavailable(
                f"kubernetes: no in-cluster config and no usable kubeconfig ({exc})"
            ) from None
    return k8s.ApiClient(configuration)


def _name(obj: Any) -> str:
    return str(obj.metadata.name) if obj.metadata is not None else "?"


def _retryable(exc: k8s.ApiException) -> bool:
    status = exc.status or 0
    return status == 409 or status >= 500


class KubernetesActuator:
    """Scales one Deployment through its ``scale`` subresource."""

    def __init__(
        self,
        namespace: str,
        deployment: str,
        *,
        api_client: k8s.ApiClient | None = None,
        attempts: int = 4,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = 10.0,
    ) -> None:
        self.namespace = namespace
        self.deployment = deployment
        self.api_client = api_client or api_client_from_environment()
        self.apps = k8s.AppsV1Api(self.api_client)
        self.autoscaling = k8s.AutoscalingV2Api(self.api_client)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.timeout_s = timeout_s

    def check_not_managed_by_hpa(self) -> None:
        """Raise :class:`ManagedByHpa` if any HPA in the namespace targets the Deployment."""
        hpas = self._call(
            lambda: self.autoscaling.list_namespaced_horizontal_pod_autoscaler(
                self.namespace, _request_timeout=self.timeout_s
            )
        )
        for hpa in hpas.items or []:
            ref = hpa.spec.scale_target_ref
            group = (ref.api_version or "").split("/")[0]
            if ref.kind == "Deployment" and ref.name == self.deployment and group == "apps":
                raise ManagedByHpa(
                    f"deployment {self.namespace}/{self.deployment} is already scaled by "
                    f"HorizontalPodAutoscaler {_name(hpa)!r}; remove it or pick another target"
                )

    def status(self) -> ReplicaStatus:
        scale = self._call(
            lambda: self.apps.read_namespaced_deployment_scale(
                self.deployment, self.namespace, _request_timeout=self.timeout_s
            )
        )
        deployment = self._call(
            lambda: self.apps.read_namespaced_deployment_status(
                self.deployment, self.namespace, _request_timeout=self.timeout_s
            )
        )
        current = int((scale.spec and scale.spec.replicas) or 0)
        ready = int((deployment.status and deployment.status.ready_replicas) or 0)
        return ReplicaStatus(current=current, ready=min(ready, current))

    def scale(self, replicas: int) -> None:
        # Checked before every write: an HPA created after we started must stop us.
        self.check_not_managed_by_hpa()
        body: dict[str, Any] = {"spec": {"replicas": int(replicas)}}
        self._call(
            lambda: self.apps.patch_namespaced_deployment_scale(
                self.deployment,
                self.namespace,
                body,
                field_manager=FIELD_MANAGER,
                _request_timeout=self.timeout_s,
            )
        )

    def close(self) -> None:
        self.api_client.close()  # type: ignore[no-untyped-call]

    def _call(self, request: Callable[[], T]) -> T:
        for attempt in range(self.attempts):
            try:
                return request()
            except k8s.ApiException as exc:
                if not _retryable(exc) or attempt == self.attempts - 1:
                    raise
                self.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")  # the loop always returns or raises
