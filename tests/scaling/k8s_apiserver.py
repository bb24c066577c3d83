"""A tiny HTTP server speaking the Kubernetes API paths the autoscaler uses (and Prometheus').

It records every request (method, path, query, headers, body) so tests can
assert exactly what the official ``kubernetes`` client sends over the wire.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEPLOY = "/apis/apps/v1/namespaces/{ns}/deployments/{name}"
HPAS = "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class ApiState:
    namespace: str = "web"
    deployment: str = "api"
    replicas: int = 3
    ready: int = 3
    hpa_targets: list[str] = field(default_factory=list)  # deployment names with an HPA
    fail_next: list[int] = field(default_factory=list)  # status codes for the next PATCHes
    prometheus: dict[str, float] = field(default_factory=dict)  # query substring -> value
    requests: list[Recorded] = field(default_factory=list)

    def scale_json(self) -> dict[str, Any]:
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": self.deployment, "namespace": self.namespace},
            "spec": {"replicas": self.replicas},
            "status": {"replicas": self.replicas, "selector": f"app={self.deployment}"},
        }

    def deployment_json(self) -> dict[str, Any]:
        labels = {"app": self.deployment}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": self.deployment, "namespace": self.namespace},
            "spec": {
                "replicas": self.replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "api:1"}]},
                },
            },
            "status": {"replicas": self.replicas, "readyReplicas": self.ready},
        }

    def hpa_list_json(self) -> dict[str, Any]:
        items = [
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": f"{target}-hpa", "namespace": self.namespace},
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": target,
                    },
                    "minReplicas": 1,
                    "maxReplicas": 10,
                },
            }
            for target in self.hpa_targets
        ]
        return {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscalerList",
            "metadata": {},
            "items": items,
        }


class _Handler(BaseHTTPRequestHandler):
    state: ApiState  # set on a subclass per server

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def _record(self) -> Recorded:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        headers = {k.lower(): v for k, v in self.headers.items()}  # HTTP names are case-blind
        rec = Recorded(self.command, parts.path, parse_qs(parts.query), headers, body)
        self.state.requests.append(rec)
        return rec

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, code: int, reason: str) -> None:
        self._send(
            code,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": reason,
                "code": code,
            },
        )

    def do_GET(self) -> None:
        rec, s = self._record(), self.state
        base = DEPLOY.format(ns=s.namespace, name=s.deployment)
        if rec.path == base + "/scale":
            self._send(200, s.scale_json())
        elif rec.path == base + "/status":
            self._send(200, s.deployment_json())
        elif rec.path == HPAS.format(ns=s.namespace):
            self._send(200, s.hpa_list_json())
        elif rec.path == "/api/v1/query":
            query = rec.query.get("query", [""])[0]
            for needle, value in s.prometheus.items():
                if needle in query:
                    result = [{"metric": {}, "value": [0, str(value)]}]
                    break
            else:
                result = []
            self._send(
                200, {"status": "success", "data": {"resultType": "vector", "result": result}}
            )
        else:
            self._status(404, "NotFound")

    def do_PATCH(self) -> None:
        rec, s = self._record(), self.state
        if rec.path != DEPLOY.format(ns=s.namespace, name=s.deployment) + "/scale":
            self._status(404, "NotFound")
            return
        if s.fail_next:
            code = s.fail_next.pop(0)
            self._status(code, "Conflict" if code == 409 else "InternalError")
            return
        s.replicas = int(rec.body["spec"]["replicas"])
        self._send(200, s.scale_json())


class ApiServer:
    """Serves :class:`ApiState` on a free loopback port in a background thread."""

    def __init__(self, state: ApiState | None = None) -> None:
        self.state = state or ApiState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def requests(self, method: str | None = None) -> list[Recorded]:
        return [r for r in self.state.requests if method is None or r.method == method]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
