"""`mlplatform conformance run|report|list`: the conformance suite against a cluster."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
import yaml

from mlplatform.cli import conformance_trend
from mlplatform.cli.app import (
    Exit,
    OptionalEnvOption,
    Output,
    OutputOption,
    _check_release,
    emit,
    fail,
    one_line,
)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="conformance",
        help="run conformance scenarios, render reports",
        no_args_is_help=True,
    )
    group.command("run")(run)
    group.command("report")(report)
    group.command("list")(list_scenarios)
    conformance_trend.add_commands(group)
    app.add_typer(group)


def run(
    env: OptionalEnvOption = None,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="kubeconfig path (default: the stack's platform.cluster.kubeconfig with --env)",
        ),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="kubeconfig context under test (default: the stack's platform.cluster.context "
            "with --env, else the kubeconfig's current context)",
        ),
    ] = None,
    release: Annotated[
        str | None,
        typer.Option(
            metavar="RELEASE",
            help="the platform release installed there (default: the stack's platform.release "
            "with --env)",
            callback=_check_release,
        ),
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME", help="a scenario to run (repeatable; default: all, see `list`)"
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="directory for the JUnit, JSON and markdown reports")
    ] = Path("conformance-out"),
    keep_on_failure: Annotated[
        bool,
        typer.Option(
            "--keep-on-failure",
            help="leave a failed scenario's namespaces and queues for inspection",
        ),
    ] = False,
    image: Annotated[
        str | None, typer.Option(help="scenario image (default: scenarios.images)")
    ] = None,
    registry: Annotated[
        str | None, typer.Option(help="mirror registry for every scenario image")
    ] = None,
    timeout_scale: Annotated[
        float, typer.Option(min=0.01, help="multiply every timeout tier (slow clusters)")
    ] = 1.0,
    in_cluster: Annotated[
        bool,
        typer.Option(
            "--in-cluster",
            help="run as the pod's ServiceAccount (the platform's conformance CronJob); needs "
            "--release",
        ),
    ] = False,
    publish: Annotated[
        str | None,
        typer.Option(
            metavar="S3_URL",
            help="upload results.json, junit.xml and report.md to S3_URL/<run>/ (keys from "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, endpoint from AWS_ENDPOINT_URL)",
        ),
    ] = None,
    pushgateway: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="push the run's outcome and durations to this Pushgateway"
        ),
    ] = None,
    retention_days: Annotated[
        int | None,
        typer.Option(min=1, help="with --publish: delete published runs older than this"),
    ] = None,
) -> None:
    """Run scenarios against an environment's cluster (--env) or a kubeconfig's; exit 1 when
    one fails."""
    import os

    import urllib3
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import ConfigException

    from mlplatform.scenarios import incluster, runner
    from mlplatform.scenarios import publish as publishing
    from mlplatform.scenarios.s3 import S3Error, parse_url

    store = None
    if publish is not None:
        try:
            parse_url(publish)
            store = publishing.S3Writer.from_env(os.environ)
        except ValueError as err:
            fail(f"--publish {publish}: {one_line(str(err))}")
    elif retention_days is not None:
        fail("--retention-days prunes published runs: pass --publish S3_URL too")
    if in_cluster:
        if env is not None or kubeconfig is not None or context is not None or release is None:
            fail("conformance run --in-cluster: pass --release RELEASE and no --env, "
                 "--kubeconfig or --context")  # fmt: skip
    elif env is not None:
        kubeconfig, context, release = from_stack(env, kubeconfig, context, release)
    elif kubeconfig is None or release is None:
        fail("conformance run: pass --env ENV, or --kubeconfig PATH and --release RELEASE")
    assert release is not None
    try:
        if in_cluster:
            result = incluster.run(
                release, scenario or None, out, keep_on_failure, image=image,
                registry=registry, timeout_scale=timeout_scale,
            )  # fmt: skip
        else:
            result = runner.run(
                kubeconfig,
                release,
                scenario or None,
                out,
                keep_on_failure,
                context=context,
                image=image,
                registry=registry,
                timeout_scale=timeout_scale,
            )
    except (ConfigException, yaml.YAMLError) as err:
        fail(f"kubeconfig {kubeconfig or '(default)'}: {one_line(str(err))}", Exit.ENVIRONMENT)
    except (urllib3.exceptions.HTTPError, ApiException, OSError) as err:
        fail(
            f"cannot reach the cluster of kubeconfig {kubeconfig or '(default)'}"
            f"{f' context {context}' if context else ''}: {one_line(str(err))}",
            Exit.ENVIRONMENT,
        )
    except ValueError as err:  # unknown scenario names
        fail(one_line(str(err)))
    try:
        if store is not None and publish is not None:
            for key in publishing.upload(store, publish, result, out):
                print(f"published {key}")
            for key in publishing.prune(store, publish, retention_days) if retention_days else []:
                print(f"pruned {key}")
        if pushgateway is not None:
            print(f"pushed {publishing.push(pushgateway, publishing.metrics(result))}")
    except (publishing.PublishError, S3Error) as err:
        fail(f"conformance run: publishing failed: {one_line(str(err))}", Exit.ENVIRONMENT)
    if not result.passed:
        raise typer.Exit(Exit.FINDINGS)


def from_stack(
    env: str, kubeconfig: str | None, context: str | None, release: str | None
) -> tuple[str | None, str | None, str]:
    """Kubeconfig, context and release of `env`'s stack file; a flag may fill in what the stack
    leaves unset, never contradict what it says (exit 2)."""
    from mlplatform.cluster.lifecycle import load_stack
    from mlplatform.stackconfig import stack_file

    platform = load_stack(env).platform
    name = stack_file(env).name

    def pick(flag: str, given: str | None, stacked: str | None, key: str) -> str | None:
        if given is not None and stacked is not None and not same(key, given, stacked):
            fail(
                f"conformance run: {flag} {given} contradicts {name} platform.{key} {stacked}: "
                f"drop {flag}, or run without --env"
            )
        return stacked if stacked is not None else given

    return (
        pick("--kubeconfig", kubeconfig, platform.cluster.kubeconfig, "cluster.kubeconfig"),
        pick("--context", context, platform.cluster.context, "cluster.context"),
        pick("--release", release, platform.release, "release") or platform.release,
    )


def same(key: str, a: str, b: str) -> bool:
    """Equal values (kubeconfigs as the files they name)."""
    if key == "cluster.kubeconfig":
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    return a == b


def report(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR",
            exists=True,
            file_okay=False,
            help="a `conformance run --out` directory (holds results.json)",
        ),
    ],
    output: OutputOption = Output.table,
) -> None:
    """Re-render report.md from results.json in DIR; print its path (or the summary)."""
    from mlplatform.scenarios.report import JSON_FILE, Report, rerender, summary_dict

    results = directory / JSON_FILE
    if not results.is_file():
        fail(f"no {JSON_FILE} in {directory}: pass the --out directory of `conformance run`")
    try:
        path = rerender(directory)
        data = summary_dict(Report.from_json(results.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        fail(f"{results}: not a conformance result ({one_line(str(err))})")
    if output is Output.table:
        print(path)
    else:
        emit({"report": str(path), **data}, output)


def list_scenarios(
    env: OptionalEnvOption = None,
    release: Annotated[
        str | None,
        typer.Option(
            metavar="RELEASE",
            help="build the scenarios for this platform release (default: the stack's with "
            "--env, else the newest release supporting --kubernetes)",
            callback=_check_release,
        ),
    ] = None,
    kubernetes: Annotated[
        str | None,
        typer.Option(
            metavar="MINOR",
            help="Kubernetes minor whose AI-conformance checklist to cover, e.g. 1.33 "
            "(default: the stack's kubernetesVersion with --env, else the release's newest)",
        ),
    ] = None,
    output: OutputOption = Output.table,
) -> None:
    """The scenario library: what each checks, the AI-conformance requirements its steps
    prove, and the coverage of the checklist for a Kubernetes version."""
    from mlplatform import releases
    from mlplatform.scenarios.library import declared, scenarios

    if env is not None:
        from mlplatform.cluster.lifecycle import load_stack

        platform = load_stack(env).platform
        release = release or platform.release
        kubernetes = kubernetes or platform.kubernetes_version
    if kubernetes is not None and not re.fullmatch(r"v?1\.[0-9]{1,2}(\.[0-9]+)?", kubernetes):
        fail(f"--kubernetes {kubernetes}: not a Kubernetes minor; pass e.g. 1.34")
    if release is None:
        fitting = [
            r
            for r in releases.available()
            if kubernetes is None or releases.load(r).kubernetes.contains(kubernetes)
        ]
        if not fitting:
            fail(f"--kubernetes {kubernetes}: no platform release supports it; see `release list`")
        release = fitting[-1]
    rel = releases.load(release)
    kubernetes = kubernetes or rel.kubernetes.max
    if not rel.kubernetes.contains(kubernetes):
        fail(
            f"--kubernetes {kubernetes}: release {release} supports {rel.kubernetes.min}-"
            f"{rel.kubernetes.max}; pass a minor in that range or another --release"
        )
    try:
        proves, cov = declared(rel, kubernetes)
    except ValueError as err:  # no checklist pinned for that minor
        fail(one_line(str(err)))
    from mlplatform.scenarios.requirements import checklist

    cl = checklist(kubernetes)
    data = {
        "release": release,
        "kubernetes": cl.kubernetes,
        "checklist": {"version": cl.version, "source": cl.source},
        "scenarios": [
            {
                "name": s.name,
                "summary": s.summary,
                "requirements": proves[s.name],
                **({"unsupported": why} if (why := s.unsupported(rel)) else {}),
            }
            for s in scenarios().values()
        ],
        "coverage": {r: c.as_dict() for r, c in cov.items()},
    }
    if output is not Output.table:
        emit(data, output)
        return
    emit(data, output, ("scenario", "proves", "summary"),
         lambda d: [(s["name"], ", ".join(s["requirements"]) or "-", s["summary"])
                    for s in d["scenarios"]])  # fmt: skip
    emit(data["coverage"], output, ("requirement", "level", "status", "proved by / why"),
         lambda c: [(r, v["level"], v["status"], "; ".join(v.get("by", [])) or v.get("why", ""))
                    for r, v in c.items()],
         title=f"AI conformance, Kubernetes {cl.kubernetes} (checklist v{cl.version})")  # fmt: skip
