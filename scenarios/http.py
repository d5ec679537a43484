"""The narrow HTTP interface scenarios use to reach the platform from outside the cluster (its
gateway), and its urllib implementation. Tests substitute a fake through `Target.http`.

Redirects are not followed: a login redirect is an answer scenarios check, not a detour.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Response:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class Http(Protocol):
    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        ca_pem: str | None = None,
        timeout_s: float = 10.0,
    ) -> Response: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class UrllibHttp:
    """HTTPS verified against `ca_pem` when given (the platform's own CA, e.g. dev's
    self-signed one), else against the system's trust store; never unverified."""

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        ca_pem: str | None = None,
        timeout_s: float = 10.0,
    ) -> Response:
        context = ssl.create_default_context(cadata=ca_pem) if ca_pem else None
        opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=context)
        )
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
        try:
            with opener.open(req, timeout=timeout_s) as r:
                return Response(r.status, r.read().decode(errors="replace"), dict(r.headers))
        except urllib.error.HTTPError as e:  # 3xx (not followed), 4xx, 5xx: an answer
            return Response(e.code, e.read().decode(errors="replace"), dict(e.headers or {}))
