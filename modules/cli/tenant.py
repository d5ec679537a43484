"""`mlplatform tenant add|remove|list|show --env ENV`: onboard teams by editing the stack file.

Edits `stacks/Pulumi.<env>.yaml` round-trip (comments and order kept), validates the whole
resulting config (platform and every tenant) before writing, and writes atomically. Bad
input leaves the file byte for byte as it was.
"""

from __future__ import annotations

import functools
import inspect
import io
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn, get_type_hints

import typer
import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from mlplatform.cli import tenant_stacks
from mlplatform.cli.app import (
    DryRunOption,
    EnvOption,
    Exit,
    Output,
    OutputOption,
    emit,
    fail,
    one_line,
)
from mlplatform.config import ConfigError
from mlplatform.stackconfig import PROJECT, round_trip_yaml, stack_file, write_stack_file

KEY = f"{PROJECT}:tenants"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml scanner and parser


@functools.lru_cache(maxsize=4)
def parsed(text: str) -> Any:
    """A stack file's text as plain data (cached: `add` reads the old and new text twice each;
    callers never mutate it)."""
    return yaml.load(text, Loader=_LOADER) or {}


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="tenant", help="onboard, offboard and inspect tenants (teams)", no_args_is_help=True
    )
    group.command("add")(cmd_add)
    group.command("update")(cmd_update)
    group.command("apply")(cmd_apply)
    group.command("remove")(cmd_remove)
    group.command("list")(cmd_list)
    group.command("show")(cmd_show)
    tenant_stacks.add_commands(group)
    app.add_typer(group)


Name = Annotated[
    str, typer.Argument(metavar="NAME", help="tenant (and namespace) name, a DNS label")
]


# --- stack file ------------------------------------------------------------------------


def load(env: str) -> tuple[Path, str, Any]:
    path = stack_file(env)
    if not path.is_file():
        fail(f"no stack file {path}", Exit.ENVIRONMENT)
    text = path.read_text()
    return path, text, round_trip_yaml().load(text)


def dump(doc: Any) -> str:
    out = io.StringIO()
    round_trip_yaml().dump(doc, out)
    return out.getvalue()


def appended(text: str, entry: CommentedMap) -> str | None:
    """`text` with `entry` appended to its `mlplatform:tenants` block sequence as text: a round
    trip of a 1,000-tenant file through ruamel takes seconds. None when the list is not a
    non-empty block sequence or the result does not parse as exactly that append."""
    lines = text.splitlines(keepends=True)
    key = re.compile(rf"^( *){re.escape(KEY)}:[ \t]*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if key.match(line.rstrip("\r\n"))), None)
    if start is None:
        return None
    indent = len(key.match(lines[start].rstrip("\r\n"))[1])  # type: ignore[index]
    end, item_indent = start + 1, -1
    for j in range(start + 1, len(lines)):
        stripped = lines[j].strip()
        if not stripped or stripped.startswith("#"):
            continue
        column = len(lines[j]) - len(lines[j].lstrip(" "))
        if column < indent or (column == indent and not stripped.startswith("- ")):
            break
        if item_indent < 0:
            item_indent = column if stripped.startswith("- ") else -2
        end = j + 1
    if item_indent < 2:  # not a block sequence of entries (or too little indent to match)
        return None
    out = io.StringIO()
    round_trip_yaml().dump({"x": [entry]}, out)  # `x:` at column 0, its dash at column 2
    block = "".join(" " * (item_indent - 2) + line for line in out.getvalue().splitlines(True)[1:])
    before = lines[:end]
    if before and not before[-1].endswith("\n"):
        before[-1] += "\n"
    new_text = "".join([*before, block, *lines[end:]])
    old_doc, new_doc = parsed(text), parsed(new_text)
    old_config, new_config = old_doc.get("config") or {}, new_doc.get("config") or {}
    expected = {**old_config, KEY: [*(old_config.get(KEY) or []), plain(entry)]}
    if {**old_doc, "config": expected} != {**new_doc, "config": new_config}:
        return None
    return new_text


def tenants_of(doc: Any) -> CommentedSeq:
    config = doc.setdefault("config", CommentedMap())
    if config.get(KEY) is None:
        config[KEY] = CommentedSeq()
    return config[KEY]


def validate(text: str) -> Any:
    """The Stack of a stack file's text (raises ConfigError, listing every problem)."""
    from mlplatform.platform import load_config

    doc = parsed(text)
    values = {
        k.partition(":")[2]: v
        for k, v in (doc.get("config") or {}).items()
        if k.startswith(f"{PROJECT}:") and not (isinstance(v, dict) and set(v) == {"secure"})
    }
    return load_config(values)


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


@dataclass
class Flags:
    """What `tenant add` was given, flag by flag."""

    name: str
    owner: list[str]
    member: list[str] = field(default_factory=list)
    display_name: str | None = None
    cpu: str | None = None
    memory: str | None = None
    gpu: str | None = None
    pods: str | None = None
    storage: str | None = None
    queue: list[str] = field(default_factory=list)
    cohort: str | None = None
    allowed_priority: list[str] = field(default_factory=list)
    default_priority: str | None = None
    bucket_quota: str | None = None
    no_bucket: bool = False
    label: list[str] = field(default_factory=list)
    egress: list[str] = field(default_factory=list)


def spec_from_args(args: Flags) -> CommentedMap:
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


def _fail(problems: list[str], path: Path) -> NoReturn:
    fail(f"refused: {path.name} left unchanged: {'; '.join(problems)}")


# `add` and `update` take the same spec options; `_spec_command` gives both their parsing.
Owners = Annotated[
    list[str], typer.Option(metavar="EMAIL", help="owner email (repeatable, at least one)")
]
ChangedOwners = Annotated[
    list[str] | None,
    typer.Option(metavar="EMAIL", help="owner email (repeatable; replaces the owners)"),
]


def _spec_options(
    member: Annotated[
        list[str] | None,
        typer.Option(metavar="EMAIL[=ROLE]", help="member, role admin|edit|view (repeatable)"),
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="human-readable team name")] = None,
    cpu: Annotated[str | None, typer.Option(help="namespace quota: cpu")] = None,
    memory: Annotated[str | None, typer.Option(help="namespace quota: memory")] = None,
    gpu: Annotated[str | None, typer.Option(help="namespace quota: gpu")] = None,
    pods: Annotated[str | None, typer.Option(help="namespace quota: pods")] = None,
    storage: Annotated[str | None, typer.Option(help="namespace quota: storage")] = None,
    queue: Annotated[
        list[str] | None,
        typer.Option(
            metavar="FLAVOR:RES=QTY[,RES=QTY]",
            help="Kueue nominal quota for one flavor, e.g. gpu:cpu=4,memory=16Gi,nvidia.com/gpu=1 "
            "(repeatable)",
        ),
    ] = None,
    cohort: Annotated[str | None, typer.Option(help="Kueue cohort to borrow/lend in")] = None,
    allowed_priority: Annotated[
        list[str] | None,
        typer.Option(
            metavar="CLASS", help="a priority class the tenant may use (repeatable; default: all)"
        ),
    ] = None,
    default_priority: Annotated[
        str | None, typer.Option(help="priority class of workloads that name none")
    ] = None,
    bucket_quota: Annotated[
        str | None, typer.Option(help="hard quota of the tenant bucket, e.g. 100Gi")
    ] = None,
    no_bucket: Annotated[
        bool, typer.Option("--no-bucket", help="no MinIO bucket and credentials")
    ] = False,
    label: Annotated[
        list[str] | None,
        typer.Option(metavar="KEY=VALUE", help="namespace label (repeatable)"),
    ] = None,
    egress: Annotated[
        list[str] | None,
        typer.Option(metavar="CIDR|HOST:PORT[,PORT]", help="egress exception (repeatable)"),
    ] = None,
) -> None:
    """The spec options (a signature only: `_spec_command` lends them to commands)."""


def _spec_command(
    owners: Any,
) -> Callable[[Callable[[str, Flags, bool], None]], Callable[..., None]]:
    """A Typer command `(--env, NAME, --owner, <spec options>, --dry-run)` calling
    `fn(env, flags, dry_run)`, with `owners` as the --owner annotation."""

    def wrap(fn: Callable[[str, Flags, bool], None]) -> Callable[..., None]:
        def command(**kwargs: Any) -> None:
            env, dry_run = kwargs.pop("env"), kwargs.pop("dry_run")
            lists = ("owner", "member", "queue", "allowed_priority", "label", "egress")
            fn(env, Flags(**{k: v or [] if k in lists else v for k, v in kwargs.items()}), dry_run)

        hints = get_type_hints(_spec_options, include_extras=True)
        kw = inspect.Parameter.KEYWORD_ONLY
        params = [
            inspect.Parameter("env", kw, annotation=EnvOption),
            inspect.Parameter("name", kw, annotation=Name),
            inspect.Parameter(
                "owner", kw, annotation=owners, **({} if owners is Owners else {"default": None})
            ),
            *(
                p.replace(kind=kw, annotation=hints[p.name])
                for p in inspect.signature(_spec_options).parameters.values()
            ),
            inspect.Parameter("dry_run", kw, annotation=DryRunOption, default=False),
        ]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__doc__, command.__name__ = fn.__doc__, fn.__name__
        return command

    return wrap


@_spec_command(Owners)
def cmd_add(env: str, flags: Flags, dry_run: bool) -> None:
    """Add a tenant to an environment's stack config (validated before writing)."""
    path = stack_file(env)
    entry = _spec(flags, path)
    text = path.read_text() if path.is_file() else ""
    fast = appended(text, entry)
    if fast is not None:  # appended as text, the rest of the file byte for byte
        current = (parsed(text).get("config") or {}).get(KEY) or []
        if any(isinstance(t, dict) and t.get("name") == flags.name for t in current):
            _fail([f"tenant {flags.name!r} already exists in {path.name}"], path)
        _write_text(env, path, fast, flags.name, "will create", dry_run)
        return
    path, _, doc = load(env)
    tenants = tenants_of(doc)
    if any(t.get("name") == flags.name for t in tenants):
        _fail([f"tenant {flags.name!r} already exists in {path.name}"], path)
    tenants.append(entry)
    _write(env, path, doc, flags.name, "will create", dry_run)


@_spec_command(ChangedOwners)
def cmd_update(env: str, flags: Flags, dry_run: bool) -> None:
    """Change an existing tenant: the options given replace those fields (validated before
    writing); quota, labels and Kueue flavors change key by key, lists are replaced."""
    path, _, doc = load(env)
    changes = _spec(flags, path)
    if not flags.owner:
        del changes["owners"]
    tenants = tenants_of(doc)
    entry = next((t for t in tenants if t.get("name") == flags.name), None)
    if entry is None:
        names = ", ".join(str(t.get("name")) for t in tenants) or "none"
        _fail([f"no tenant {flags.name!r} in {path.name}; tenants: {names}"], path)
    before = plain(entry)
    merge(entry, changes)
    if plain(entry) == before:
        print(f"tenant {flags.name} in {env} unchanged: {path.name} not written")
        return
    _write(env, path, doc, flags.name, "will have", dry_run)


def _spec(flags: Flags, path: Path) -> CommentedMap:
    try:
        return spec_from_args(flags)
    except ValueError as err:
        _fail([str(err)], path)


def plain(node: Any) -> Any:
    """A round-trip YAML node as plain dicts and lists (to compare entries)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


def merge(into: dict[str, Any], changes: dict[str, Any]) -> None:
    """Mappings merge key by key (in place, keeping comments); anything else is replaced."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def _write(env: str, path: Path, doc: Any, name: str, verb: str, dry_run: bool) -> None:
    """Validate the whole edited file, list what `name` creates, write it atomically."""
    _write_text(env, path, dump(doc), name, verb, dry_run)


def _write_text(env: str, path: Path, new_text: str, name: str, verb: str, dry_run: bool) -> None:
    try:
        stack = validate(new_text)
    except ConfigError as err:
        _fail(err.problems, path)
    tenant = next(t for t in stack.tenants if t.name == name)
    print(f"tenant {name} ({tenant.title}) for {env} {verb}:")
    for ref in created(stack.platform, tenant):
        print(f"  {ref}")
    if dry_run:
        print(f"dry run: {path.name} not written")
        return
    write_stack_file(path, new_text)
    print(f"wrote {path}\nnext: mlplatform up --env {env}")


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


def cmd_remove(
    env: EnvOption,
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    dry_run: DryRunOption = False,
) -> None:
    """Remove a tenant (its namespace, volumes, bucket credentials and queue go too)."""
    path, text, doc = load(env)
    tenants = tenants_of(doc)
    index = next((i for i, t in enumerate(tenants) if t.get("name") == name), None)
    if index is None:
        names = ", ".join(str(t.get("name")) for t in tenants) or "none"
        _fail([f"no tenant {name!r} in {path.name}; tenants: {names}"], path)
    current = validate(text)
    tenant = next(t for t in current.tenants if t.name == name)
    del tenants[index]
    new_text = dump(doc)
    try:
        validate(new_text)
    except ConfigError as err:
        _fail(err.problems, path)
    from mlplatform.cluster import lifecycle
    from mlplatform.cluster.stack import StackError

    own_stack = lifecycle.tenant_stack_exists(env, name)
    when = f"destroying its stack {env}.tenant-{name}" if own_stack else "after `mlplatform up`"
    print(f"removing tenant {name} from {env} deletes, {when}:")
    print_loss(tenant)
    if dry_run:
        print(f"dry run: {path.name} not written")
        return
    if not yes:
        confirm(name, "the tenant name", path)
    if own_stack:  # destroyed before the entry goes: a failure leaves both as they were
        try:
            lifecycle.destroy_tenant(env, name, out=lambda _: None)
        except StackError as err:
            fail(f"pulumi: {one_line(str(err))}", Exit.FINDINGS)
    write_stack_file(path, new_text)
    print(f"wrote {path}" if own_stack else f"wrote {path}\nnext: mlplatform up --env {env}")


def print_loss(tenant: Any) -> None:
    """What removing `tenant` deletes: its data first."""
    print(f"  namespace {tenant.namespace} and everything in it, including every")
    print("    PersistentVolumeClaim (and its data), Secret, job and model server")
    if tenant.storage.bucket:
        print(f"  MinIO credentials of {tenant.bucket}; objects in bucket {tenant.bucket} are")
        print("    no longer reachable by the team (empty and delete the bucket to free space)")
    print(f"  ClusterQueue {tenant.cluster_queue} (queued and running workloads are evicted)")


def confirm(word: str, what: str, path: Path) -> None:
    """Ask to type `word` (refused without a terminal: pass --yes)."""
    if not sys.stdin.isatty():
        _fail(["not confirmed: pass --yes, or run interactively"], path)
    typed = input(f"type {what} ({word}) to confirm: ").strip()
    if typed != word:
        _fail([f"confirmation {typed!r} does not match {word!r}"], path)


def read_entries(file: Path) -> list[CommentedMap]:
    """The tenant entries of an apply file: a list (or `tenants:` holding one) of mappings,
    each with a name, no name twice. Shape problems are refused here, all at once."""
    try:
        data = round_trip_yaml().load(file.read_text())
    except (OSError, YAMLError) as err:
        fail(f"{file}: {one_line(str(err))}")
    if isinstance(data, dict) and set(data) == {"tenants"}:
        data = data["tenants"]
    if not isinstance(data, list):
        fail(f"{file}: must be a list of tenant entries (as under {KEY}), or `tenants:` one")
    problems, seen = [], {}
    for i, entry in enumerate(data):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            problems.append(f"{file}: tenants[{i}]: must be a mapping with a name")
        elif name in seen:
            problems.append(f"{file}: tenants[{i}].name: {name!r} repeats tenants[{seen[name]}]")
        else:
            seen[name] = i
    if problems:
        fail(f"refused: nothing written: {'; '.join(problems)}")
    return data


def cmd_apply(
    env: EnvOption,
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help=f"YAML list of tenant entries, each as under {KEY}",
        ),
    ],
    prune: Annotated[
        bool, typer.Option("--prune", help="remove the tenants the file does not name")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask to confirm a prune")] = False,
    dry_run: DryRunOption = False,
) -> None:
    """Upsert every tenant of FILE by name (GitOps onboarding): all validated together with
    the platform config, one atomic write or nothing."""
    path, text, doc = load(env)
    entries = read_entries(file)
    tenants = tenants_of(doc)
    index = {t.get("name"): i for i, t in enumerate(tenants)}
    added, changed, unchanged = [], [], []
    for entry in entries:
        i = index.get(entry["name"])
        if i is None:
            tenants.append(entry)
            added.append(entry["name"])
        elif plain(tenants[i]) == plain(entry):
            unchanged.append(entry["name"])
        else:
            tenants[i] = entry
            changed.append(entry["name"])
    named = {e["name"]: i for i, e in enumerate(entries)}
    others = [str(t.get("name")) for t in tenants if t.get("name") not in named]
    removed = others if prune else []
    for i in reversed(range(len(tenants))):
        if tenants[i].get("name") in removed:
            del tenants[i]
    new_text = dump(doc)
    try:
        validate(new_text)
    except ConfigError as err:
        origin = [named.get(t.get("name")) for t in tenants]
        _fail([_located(p, origin, file, path) for p in err.problems], path)
    for what, names in (("added", added), ("changed", changed), ("unchanged", unchanged)):
        print(f"{what:10} {', '.join(names) or '-'}")
    if removed:
        print(f"{'removed':10} {', '.join(removed)}; after `mlplatform up` this deletes:")
        current = validate(text)
        for tenant in current.tenants:
            if tenant.name in removed:
                print(f"  tenant {tenant.name}:")
                print_loss(tenant)
    elif others:
        print(f"{'kept':10} {', '.join(others)} (not in {file}; --prune removes them)")
    print(
        f"{env}: {len(added)} added, {len(changed)} changed, {len(unchanged)} unchanged, "
        f"{len(removed)} removed"
    )
    if dry_run or new_text == text:
        print(f"{'dry run' if dry_run else 'no change'}: {path.name} not written")
        return
    if removed and not yes:
        confirm(env, "the environment", path)
    write_stack_file(path, new_text)
    print(f"wrote {path}\nnext: mlplatform up --env {env}")


def _located(problem: str, origin: list[int | None], file: Path, path: Path) -> str:
    """A problem of the resulting `tenants[k]` as the apply file's entry (else the stack's)."""
    match = re.match(r"tenants\[(\d+)\](.*)", problem, re.S)
    if match and (j := origin[int(match[1])]) is not None:
        return f"{file}: tenants[{j}]{match[2]}"
    return f"{path.name}: {problem}"


def cmd_list(env: EnvOption, output: OutputOption = Output.table) -> None:
    """An environment's tenants: owners, Kueue cohort and flavors."""
    path, text, _ = load(env)
    stack = validate(text)
    rows = [
        {
            "name": t.name,
            "owners": list(t.owners),
            "cohort": t.kueue.cohort,
            "flavors": list(t.kueue.quota),
        }
        for t in stack.tenants
    ]
    if output is not Output.table:
        emit(rows, output)
        return
    print(f"{'name':24} {'owners':34} {'cohort':14} flavors")
    for r in rows:
        owners, flavors = ",".join(r["owners"]), ",".join(r["flavors"]) or "-"
        print(f"{r['name']:24} {owners:34} {r['cohort'] or '-':14} {flavors}")
    print(f"{len(rows)} tenant(s) in {path.name}")


def cmd_show(env: EnvOption, name: Name, output: OutputOption = Output.table) -> None:
    """A tenant's effective spec (defaults filled in) and every object it creates."""
    path, text, _ = load(env)
    stack = validate(text)
    tenant = next((t for t in stack.tenants if t.name == name), None)
    if tenant is None:
        names = ", ".join(t.name for t in stack.tenants) or "none"
        fail(f"no tenant {name!r} in {path.name}; tenants: {names}")
    effective = tenant.model_dump(mode="json", by_alias=True, exclude_none=True)
    creates = created(stack.platform, tenant)
    if output is not Output.table:
        emit({"spec": effective, "creates": creates}, output)
        return
    print(yaml.safe_dump(effective, sort_keys=False).rstrip())
    print("creates:")
    for ref in creates:
        print(f"  {ref}")
