"""`mlplatform tenant add|remove|list|show --env ENV`: onboard teams by editing the stack file.

Edits `stacks/Pulumi.<env>.yaml` round-trip (comments and order kept), validates the whole
resulting config (platform and every tenant) before writing, and writes atomically. Bad
input leaves the file byte for byte as it was.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mlplatform.config import ConfigError
from mlplatform.stackconfig import PROJECT, stack_file

KEY = f"{PROJECT}:tenants"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tenant", help="onboard, offboard and inspect tenants (teams)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add a tenant to an environment's stack config")
    _env(add)
    add.add_argument("name", help="tenant (and namespace) name, a DNS label")
    add.add_argument("--owner", action="append", required=True, help="owner email (repeatable)")
    add.add_argument(
        "--member", action="append", default=[], metavar="EMAIL[=ROLE]", help="role admin|edit|view"
    )
    add.add_argument("--display-name")
    for field in ("cpu", "memory", "gpu", "pods", "storage"):
        add.add_argument(f"--{field}", help=f"namespace quota: {field}")
    add.add_argument(
        "--queue",
        action="append",
        default=[],
        metavar="FLAVOR:RES=QTY[,RES=QTY]",
        help="Kueue nominal quota for one flavor, e.g. gpu:cpu=4,memory=16Gi,nvidia.com/gpu=1",
    )
    add.add_argument("--cohort", help="Kueue cohort to borrow/lend in")
    add.add_argument("--allowed-priority", action="append", help="repeatable; default: all")
    add.add_argument("--default-priority")
    add.add_argument("--bucket-quota", help="hard quota of the tenant bucket, e.g. 100Gi")
    add.add_argument("--no-bucket", action="store_true", help="no MinIO bucket and credentials")
    add.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    add.add_argument(
        "--egress", action="append", default=[], metavar="CIDR|HOST:PORT[,PORT]", help="exception"
    )
    add.add_argument("--dry-run", action="store_true", help="validate and print; do not write")
    add.set_defaults(run=cmd_add)

    remove = actions.add_parser("remove", help="remove a tenant (its bucket and data go too)")
    _env(remove)
    remove.add_argument("name")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remove.set_defaults(run=cmd_remove)

    ls = actions.add_parser("list", help="list an environment's tenants")
    _env(ls)
    ls.set_defaults(run=cmd_list)

    show = actions.add_parser("show", help="a tenant's effective spec and what it creates")
    _env(show)
    show.add_argument("name")
    show.set_defaults(run=cmd_show)


def _env(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="environment (stacks/Pulumi.<env>.yaml)")


# --- stack file ------------------------------------------------------------------------


def _yaml() -> YAML:
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def load(env: str) -> tuple[Path, str, Any]:
    path = stack_file(env)
    if not path.is_file():
        raise FileNotFoundError(f"no stack file {path}")
    text = path.read_text()
    return path, text, _yaml().load(text)


def dump(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def tenants_of(doc: Any) -> CommentedSeq:
    config = doc.setdefault("config", CommentedMap())
    if config.get(KEY) is None:
        config[KEY] = CommentedSeq()
    return config[KEY]


def validate(text: str) -> Any:
    """The Stack of a stack file's text (raises ConfigError, listing every problem)."""
    from mlplatform.platform import load_config

    doc = yaml.safe_load(text) or {}
    values = {
        k.partition(":")[2]: v
        for k, v in (doc.get("config") or {}).items()
        if k.startswith(f"{PROJECT}:") and not (isinstance(v, dict) and set(v) == {"secure"})
    }
    return load_config(values)


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- spec from flags ---------------------------------------------------------------------


def _number(value: str | None) -> Any:
    return int(value) if value is not None and value.isdigit() else value


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {item!r} is not KEY=VALUE")
        out[key] = value
    return out


def spec_from_args(args: argparse.Namespace) -> CommentedMap:
    """The stack-config entry for the flags given (validated later, with the whole file)."""
    spec = CommentedMap(name=args.name)
    if args.display_name:
        spec["displayName"] = args.display_name
    spec["owners"] = list(args.owner)
    members = []
    for m in args.member:
        email, _, role = m.partition("=")
        members.append({"email": email, "role": role} if role else {"email": email})
    if members:
        spec["members"] = members
    quota = {f: _number(getattr(args, f)) for f in ("cpu", "memory", "gpu", "pods", "storage")}
    quota = {k: v for k, v in quota.items() if v is not None}
    if quota:
        spec["quota"] = quota
    kueue: dict[str, Any] = {}
    if args.cohort:
        kueue["cohort"] = args.cohort
    for q in args.queue:
        flavor, sep, rest = q.partition(":")
        if not sep:
            raise ValueError(f"--queue {q!r} is not FLAVOR:RES=QTY[,RES=QTY]")
        kueue.setdefault("quota", {})[flavor] = _pairs(rest.split(","), f"--queue {flavor}")
    if args.allowed_priority:
        kueue["allowedPriorities"] = list(args.allowed_priority)
    if args.default_priority:
        kueue["defaultPriority"] = args.default_priority
    if kueue:
        spec["kueue"] = kueue
    if args.no_bucket or args.bucket_quota:
        spec["storage"] = {"bucket": not args.no_bucket}
        if args.bucket_quota:
            spec["storage"]["quota"] = args.bucket_quota
    if args.label:
        spec["labels"] = _pairs(args.label, "--label")
    egress = []
    for e in args.egress:
        target, sep, ports = e.rpartition(":")
        if not sep:
            raise ValueError(f"--egress {e!r} is not CIDR:PORT[,PORT] or HOST:PORT[,PORT]")
        key = "cidr" if "/" in target or target.replace(".", "").isdigit() else "host"
        egress.append({key: target, "ports": [_number(p) for p in ports.split(",")]})
    if egress:
        spec["network"] = {"egress": egress}
    return spec


# --- commands ----------------------------------------------------------------------------


def _fail(problems: list[str], path: Path) -> int:
    print(f"refused: {path.name} left unchanged", file=sys.stderr)
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    return 2


def cmd_add(args: argparse.Namespace) -> int:
    path, _, doc = load(args.env)
    try:
        entry = spec_from_args(args)
    except ValueError as err:
        return _fail([str(err)], path)
    tenants = tenants_of(doc)
    if any(t.get("name") == args.name for t in tenants):
        return _fail([f"tenant {args.name!r} already exists in {path.name}"], path)
    tenants.append(entry)
    new_text = dump(doc)
    try:
        stack = validate(new_text)
    except ConfigError as err:
        return _fail(err.problems, path)
    tenant = next(t for t in stack.tenants if t.name == args.name)
    print(f"tenant {args.name} ({tenant.title}) for {args.env} will create:")
    for ref in created(stack.platform, tenant):
        print(f"  {ref}")
    if args.dry_run:
        print(f"dry run: {path.name} not written")
        return 0
    write_atomically(path, new_text)
    print(
        f"wrote {path}\nnext: pulumi up --stack {args.env}   (or: mlplatform up --env {args.env})"
    )
    return 0


def created(platform: Any, tenant: Any) -> list[str]:
    """`Kind/ns/name` of every Kubernetes object the tenant gets."""
    from mlplatform.component import Context
    from mlplatform.tenancy import storage
    from mlplatform.tenancy.tenant import tenant_objects

    refs = [_ref(o) for o in tenant_objects(tenant, Context(platform, None))]  # type: ignore[arg-type]
    if tenant.storage.bucket:
        refs += [
            f"Secret/minio/{storage.job_secret(tenant)}",
            f"Secret/{tenant.namespace}/{storage.CREDENTIALS}",
            f"MinIO bucket {tenant.bucket} + user/policy {storage.access_key(tenant)}",
        ]
    return refs


def _ref(obj: dict[str, Any]) -> str:
    md = obj["metadata"]
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{obj['kind']}/{ns}{md['name']}"


def cmd_remove(args: argparse.Namespace) -> int:
    path, _, doc = load(args.env)
    tenants = tenants_of(doc)
    index = next((i for i, t in enumerate(tenants) if t.get("name") == args.name), None)
    if index is None:
        names = ", ".join(str(t.get("name")) for t in tenants) or "none"
        return _fail([f"no tenant {args.name!r} in {path.name}; tenants: {names}"], path)
    current = validate(path.read_text())
    tenant = next(t for t in current.tenants if t.name == args.name)
    del tenants[index]
    new_text = dump(doc)
    try:
        validate(new_text)
    except ConfigError as err:
        return _fail(err.problems, path)
    print(f"removing tenant {args.name} from {args.env} deletes, after `pulumi up`:")
    print(f"  namespace {tenant.namespace} and everything in it, including every")
    print("    PersistentVolumeClaim (and its data), Secret, job and model server")
    if tenant.storage.bucket:
        print(f"  MinIO credentials of {tenant.bucket}; objects in bucket {tenant.bucket} are")
        print("    no longer reachable by the team (empty and delete the bucket to free space)")
    print(f"  ClusterQueue {tenant.cluster_queue} (queued and running workloads are evicted)")
    if not args.yes:
        if not sys.stdin.isatty():
            return _fail(["not confirmed: pass --yes, or run interactively"], path)
        typed = input(f"type the tenant name ({args.name}) to confirm: ").strip()
        if typed != args.name:
            return _fail([f"confirmation {typed!r} does not match {args.name!r}"], path)
    write_atomically(path, new_text)
    print(
        f"wrote {path}\nnext: pulumi up --stack {args.env}   (or: mlplatform up --env {args.env})"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    path, text, _ = load(args.env)
    stack = validate(text)
    print(f"{'name':24} {'owners':34} {'cohort':14} flavors")
    for t in stack.tenants:
        owners = ",".join(t.owners)
        flavors = ",".join(t.kueue.quota) or "-"
        print(f"{t.name:24} {owners:34} {t.kueue.cohort or '-':14} {flavors}")
    print(f"{len(stack.tenants)} tenant(s) in {path.name}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    path, text, _ = load(args.env)
    stack = validate(text)
    tenant = next((t for t in stack.tenants if t.name == args.name), None)
    if tenant is None:
        return _fail([f"no tenant {args.name!r} in {path.name}"], path)
    effective = tenant.model_dump(mode="json", by_alias=True, exclude_none=True)
    print(yaml.safe_dump(effective, sort_keys=False).rstrip())
    print("creates:")
    for ref in created(stack.platform, tenant):
        print(f"  {ref}")
    return 0
