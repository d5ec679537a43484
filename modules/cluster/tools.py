"""Doctor: which tools are present at which version, and exactly how to get the missing ones."""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from mlplatform.cluster import ROOT, TOOLS_BIN, Tool, toolchain

KIND_TOOLS = ("docker", "kind", "pulumi", "helm", "kubectl")  # dev on a local kind cluster
REMOTE_TOOLS = ("pulumi", "kubectl")  # any other cluster, reached through its kubeconfig
NETWORK_PROBE = ("registry-1.docker.io", 443)  # where kind pulls its node images from
_VERSION = re.compile(r"v?([0-9]+)\.([0-9]+)\.([0-9]+)")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # the version found, or what is wrong and how to fix it
    problem: str = ""  # a few words for one-line summaries ("kind CLI not found")

    def line(self) -> str:
        return f"{'ok' if self.ok else 'MISSING':7} {self.name:13} {self.detail}"


def search_path(environ: Mapping[str, str], tools_bin: Path | None = None) -> str:
    """PATH with the repo's `.tools/bin` first, as `make` sets it."""
    return os.pathsep.join(p for p in (str(tools_bin or TOOLS_BIN), environ.get("PATH", "")) if p)


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.search(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def install_hint(tool: Tool) -> str:
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), "amd64"
    )
    return tool.install.format(version=tool.min, os=platform.system().lower(), arch=arch)


def _run(argv: list[str], path: str) -> tuple[int, str]:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, env={**os.environ, "PATH": path}
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return 1, str(err)
    return done.returncode, (done.stdout + done.stderr).strip()


def check_tool(name: str, path: str) -> Check:
    tool = toolchain().tools[name]
    binary = shutil.which(name, path=path)
    if binary is None:
        return Check(
            name, False, f"not found; install: {install_hint(tool)}", f"{name} CLI not found"
        )
    rc, out = _run([binary, *tool.version_args], path)
    found = parse_version(out)
    if rc != 0 or found is None:
        first = out.splitlines()[0] if out else f"exit code {rc}"
        return Check(name, False, f"{binary} does not run ({first})", f"{name} broken")
    minimum = parse_version(tool.min)
    version = ".".join(map(str, found))
    if minimum and found < minimum:
        return Check(
            name,
            False,
            f"{version} at {binary} is older than {tool.min}; install: {install_hint(tool)}",
            f"{name} {version} < {tool.min}",
        )
    return Check(name, True, f"{version} ({binary})")


def check_docker_engine(path: str) -> Check:
    binary = shutil.which("docker", path=path) or "docker"
    rc, out = _run([binary, "version", "--format", "{{.Server.Version}}"], path)
    if rc != 0 or parse_version(out) is None:
        reason = next((line for line in out.splitlines() if line.strip()), "no answer")
        return Check(
            "docker-engine",
            False,
            f"Docker engine not reachable ({reason}); start it: sudo systemctl start docker, "
            "or open Docker Desktop",
            "no Docker engine",
        )
    return Check("docker-engine", True, f"Docker engine {out.splitlines()[0]}")


def doctor(
    names: Iterable[str],
    environ: Mapping[str, str] | None = None,
    tools_bin: Path | None = None,
    install: bool = False,
) -> list[Check]:
    """Check each tool (and the Docker engine with docker); with `install`, run repo installers."""
    names = list(names)
    path = search_path(os.environ if environ is None else environ, tools_bin)
    checks = {name: check_tool(name, path) for name in names}
    if install:
        installers = {toolchain().tools[n].installer for n, c in checks.items() if not c.ok} - {
            None
        }
        for script in sorted(i for i in installers if i):
            rc, out = _run([shutil.which("bash") or "/bin/bash", str(ROOT / script)], path)
            if rc != 0:
                print(f"{script} failed: {out.splitlines()[-1] if out else rc}")
        if installers:
            checks = {name: check_tool(name, path) for name in names}
    result = list(checks.values())
    if "docker" in checks and checks["docker"].ok:
        result.insert(names.index("docker") + 1, check_docker_engine(path))
    return result


def probe_network(address: tuple[str, int] = NETWORK_PROBE, timeout: float = 5.0) -> str | None:
    """None when `address` accepts a TCP connection, else why not (DNS lookups included)."""

    def connect() -> None:
        socket.create_connection(address, timeout=timeout).close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            pool.submit(connect).result(timeout=timeout + 1)
        except (OSError, FutureTimeout) as err:
            return f"no network ({address[0]}:{address[1]}: {err or 'timed out'})"
    return None


def e2e_missing(
    environ: Mapping[str, str],
    tools: Iterable[str] = KIND_TOOLS,
    tools_bin: Path | None = None,
    network: Callable[[], str | None] = probe_network,
) -> list[str]:
    """What keeps the end-to-end suite from running here; the network is probed last."""
    missing = [] if environ.get("MLPLATFORM_E2E") == "1" else ["MLPLATFORM_E2E=1 not set"]
    missing += [c.problem for c in doctor(tools, environ, tools_bin) if not c.ok]
    if not missing and (offline := network()):
        missing.append(offline)
    return missing


def skip_reason(missing: list[str]) -> str:
    return "e2e needs Docker, kind, the pulumi CLI and network; missing: " + ", ".join(missing)
