"""`mlplatform secret set --env E KEY`: a secret stack config value, encrypted for Pulumi.

The value comes from stdin (typed without echo on a terminal); the tracked stack file gets
`mlplatform:KEY: {secure: v1:...}` (and an `encryptionsalt` if it had none), encrypted the way
Pulumi's passphrase provider does, so every later `pulumi`/`mlplatform up` run decrypts it.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from mlplatform.cli.app import DryRunOption, EnvOption, fail


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="secret",
        help="secret stack config (Pulumi passphrase encryption)",
        no_args_is_help=True,
    )
    group.command("set")(set_secret)
    app.add_typer(group)


def read_value(key: str) -> str:
    """stdin: a hidden prompt on a terminal, else the piped text less one trailing newline."""
    if sys.stdin.isatty():
        return getpass.getpass(f"value for {key} (not echoed): ")
    text = sys.stdin.read()
    return text[:-1] if text.endswith("\n") else text


def set_secret(
    env: EnvOption,
    key: Annotated[
        str, typer.Argument(help="config key, e.g. oidcClientSecret (mlplatform: implied)")
    ],
    dry_run: DryRunOption = False,
) -> None:
    """Encrypt a value read from stdin into stacks/Pulumi.<env>.yaml as mlplatform:KEY."""
    from mlplatform import secrets
    from mlplatform.cluster.stack import Layout
    from mlplatform.stackconfig import stack_file

    path = stack_file(env)
    try:
        secrets.check_key(key)
        phrase = secrets.passphrase()
        value = read_value(key)
        if not value:
            fail(f'refusing an empty value for {key} (pipe it on stdin: printf %s "$V" | ...)')
        workspace_copy = Layout().work_dir(env) / f"Pulumi.{env}.yaml"
        change = secrets.set_secret(path, key, value, phrase, fallback_salt=workspace_copy)
    except secrets.SecretError as err:
        fail(str(err))
    set_, add = ("would set", "would add") if dry_run else ("set", "added")
    what = {"absent": "new", "secret": "replacing the secret", "plain": "replacing a PLAIN value"}
    print(f"{set_} {change.key} ({what[change.before]}) in stacks/{path.name}")
    if change.new_salt:
        print(f"{add} a new encryptionsalt (passphrase salt) to stacks/{path.name}")
    elif change.salt_from:
        print(f"{add} the encryptionsalt that {change.salt_from} already uses")
    if not dry_run:
        secrets.write(change)
