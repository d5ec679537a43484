"""A small read-only S3 client (list and get, AWS Signature Version 4, path-style URLs) for the
platform's object store (MinIO) or any S3 endpoint; stdlib only.

`ObjectStore` is the interface callers use, so tests substitute an in-memory store.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
ACCESS_KEY_VAR, SECRET_KEY_VAR, ENDPOINT_VAR = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",  # the AWS SDKs' variable for a custom endpoint
)


class S3Error(RuntimeError):
    """The store answered with an error, or could not be reached."""


class ObjectStore(Protocol):
    def list(self, bucket: str, prefix: str) -> list[str]: ...
    def get(self, bucket: str, key: str) -> bytes: ...


def parse_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix/` -> (bucket, prefix); ValueError without a bucket."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{url!r} is not s3://BUCKET/PREFIX")
    return parsed.netloc, parsed.path.lstrip("/")


def _quote(text: str, safe: str) -> str:
    return urllib.parse.quote(text, safe=safe)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def authorization(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    amz_date: str,
) -> str:
    """The SigV4 `Authorization` header; `headers` are every header signed (host, x-amz-*)."""
    canonical_query = "&".join(
        f"{_quote(k, '-_.~')}={_quote(v, '-_.~')}" for k, v in sorted(query.items())
    )
    signed = sorted(h.lower() for h in headers)
    values = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    canonical = "\n".join(
        [
            method,
            _quote(path, "/-_.~"),
            canonical_query,
            "".join(f"{h}:{values[h]}\n" for h in signed),
            ";".join(signed),
            payload_sha256,
        ]
    )
    day = amz_date[:8]
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(f"AWS4{secret_key}".encode(), day)
    for part in (region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope},"
        f"SignedHeaders={';'.join(signed)},Signature={signature}"
    )


@dataclass(frozen=True)
class S3Client:
    endpoint: str  # http(s)://host[:port]
    access_key: str
    secret_key: str
    region: str = "us-east-1"  # MinIO's default region
    timeout_s: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str], endpoint: str | None = None) -> S3Client:
        """Credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the endpoint from the
        argument or AWS_ENDPOINT_URL; ValueError naming what is missing."""
        missing = [v for v in (ACCESS_KEY_VAR, SECRET_KEY_VAR) if not environ.get(v)]
        endpoint = endpoint or environ.get(ENDPOINT_VAR)
        if not endpoint:
            missing.append(f"--endpoint (or {ENDPOINT_VAR})")
        if missing:
            raise ValueError(f"reading s3:// runs needs {', '.join(missing)}")
        assert endpoint is not None
        if urllib.parse.urlparse(endpoint).scheme not in ("http", "https"):
            raise ValueError(f"endpoint {endpoint!r} is not http(s)://HOST[:PORT]")
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        return cls(endpoint.rstrip("/"), environ[ACCESS_KEY_VAR], environ[SECRET_KEY_VAR], region)

    def _get(self, path: str, query: Mapping[str, str]) -> bytes:
        base = urllib.parse.urlparse(self.endpoint)
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        headers = {
            "host": base.netloc,
            "x-amz-content-sha256": EMPTY_SHA256,
            "x-amz-date": amz_date,
        }
        auth = authorization("GET", path, query, headers, EMPTY_SHA256, self.access_key,
                             self.secret_key, self.region, amz_date)  # fmt: skip
        url = f"{self.endpoint}{_quote(path, '/-_.~')}"
        if query:
            url += "?" + urllib.parse.urlencode(sorted(query.items()), quote_via=urllib.parse.quote)
        request = urllib.request.Request(url, headers={**headers, "Authorization": auth})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as err:
            code = ""
            with contextlib.suppress(ET.ParseError):
                code = ET.fromstring(err.read()).findtext("Code") or ""
            raise S3Error(f"GET {path}: HTTP {err.code} {code or err.reason}") from err
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise S3Error(f"cannot reach {self.endpoint}: {reason}") from err

    def list(self, bucket: str, prefix: str) -> list[str]:
        """Every key under `prefix` (ListObjectsV2, following continuation tokens)."""
        keys: list[str] = []
        token = ""
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            root = ET.fromstring(self._get(f"/{bucket}", query))
            keys += [c.findtext(f"{_NS}Key") or "" for c in root.iter(f"{_NS}Contents")]
            token = root.findtext(f"{_NS}NextContinuationToken") or ""
            if root.findtext(f"{_NS}IsTruncated") != "true" or not token:
                return keys

    def get(self, bucket: str, key: str) -> bytes:
        return self._get(f"/{bucket}/{key}", {})
