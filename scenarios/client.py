"""The narrow cluster interface the runner uses, and its kubernetes-client implementation.

Tests substitute a fake that implements `Cluster`; nothing else in the runner touches the
Kubernetes API. Objects are plain dicts; API failures raise `ApiError` with the HTTP status.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

Obj = dict[str, Any]


class ApiError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class Cluster(Protocol):
    def create(self, obj: Obj) -> Obj: ...
    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None: ...
    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> list[Obj]: ...
    def patch(
        self, api_version: str, kind: str, name: str, patch: Obj, namespace: str | None = None
    ) -> Obj: ...
    def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> None: ...
    def logs(
        self, namespace: str, pod: str, container: str | None = None, tail_lines: int | None = None
    ) -> str: ...
    def impersonate(self, user: str, groups: list[str]) -> Cluster: ...
    def version(self) -> str: ...  # the API server's Kubernetes version, e.g. "1.34"
    def proxy_get(
        self, namespace: str, service: str, path: str, params: dict[str, str] | None = None
    ) -> str: ...  # GET through the API server's service proxy


def ref(obj: Obj) -> str:
    md = obj.get("metadata", {})
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{obj.get('kind')}/{ns}{md.get('name', '?')}"


class KubeCluster:
    """`Cluster` over the official client's dynamic API (any kubeconfig and context)."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes import dynamic

        self._api = api_client
        self._dyn = dynamic.DynamicClient(api_client)

    @classmethod
    def from_kubeconfig(cls, path: str | None, context: str | None = None) -> KubeCluster:
        from kubernetes import config

        return cls(config.new_client_from_config(config_file=path, context=context))

    def _res(self, api_version: str, kind: str) -> Any:
        return self._dyn.resources.get(api_version=api_version, kind=kind)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

        try:
            return fn(*args, **kwargs)
        except ResourceNotFoundError as e:
            raise ApiError(404, f"API not served: {e}") from e
        except DynamicApiError as e:
            raise ApiError(int(e.status or 0), str(e.reason)) from e

    def create(self, obj: Obj) -> Obj:
        res = self._res(obj["apiVersion"], obj["kind"])
        ns = obj.get("metadata", {}).get("namespace")
        return self._call(res.create, body=obj, namespace=ns).to_dict()

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        try:
            got = self._call(self._res(api_version, kind).get, name=name, namespace=namespace)
        except ApiError as e:
            if e.status == 404:
                return None
            raise
        return got.to_dict()

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> list[Obj]:
        selector = ",".join(f"{k}={v}" for k, v in (labels or {}).items()) or None
        got = self._call(
            self._res(api_version, kind).get, namespace=namespace, label_selector=selector
        )
        return [i.to_dict() for i in got.items]

    def patch(
        self, api_version: str, kind: str, name: str, patch: Obj, namespace: str | None = None
    ) -> Obj:
        res = self._res(api_version, kind)
        return self._call(
            res.patch,
            body=patch,
            name=name,
            namespace=namespace,
            content_type="application/merge-patch+json",
        ).to_dict()

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        try:
            self._call(
                self._res(api_version, kind).delete, name=name, namespace=namespace, body=body
            )
        except ApiError as e:
            if e.status != 404:
                raise

    def logs(
        self, namespace: str, pod: str, container: str | None = None, tail_lines: int | None = None
    ) -> str:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        kwargs: dict[str, Any] = {"container": container} if container else {}
        if tail_lines:
            kwargs["tail_lines"] = tail_lines
        try:
            return str(
                client.CoreV1Api(self._api).read_namespaced_pod_log(pod, namespace, **kwargs)
            )
        except ApiException as e:
            raise ApiError(int(e.status or 0), str(e.reason)) from e

    def version(self) -> str:
        from kubernetes import client

        info = client.VersionApi(self._api).get_code()
        return f"{info.major}.{info.minor.rstrip('+')}"

    def proxy_get(
        self, namespace: str, service: str, path: str, params: dict[str, str] | None = None
    ) -> str:
        from kubernetes.client.exceptions import ApiException

        try:
            resp = self._api.call_api(
                f"/api/v1/namespaces/{namespace}/services/{service}/proxy/{path.lstrip('/')}",
                "GET",
                query_params=list((params or {}).items()),
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _preload_content=False,
            )
        except ApiException as e:
            raise ApiError(int(e.status or 0), str(e.reason)) from e
        return str(resp.data.decode())

    def impersonate(self, user: str, groups: list[str]) -> KubeCluster:
        from kubernetes import client

        api = client.ApiClient(copy.copy(self._api.configuration))
        api.set_default_header("Impersonate-User", user)
        for group in groups[:1]:  # the client sends one value per header name
            api.set_default_header("Impersonate-Group", group)
        return KubeCluster(api)
