"""Secret stack config encrypted exactly as Pulumi's passphrase secrets provider does.

Verified against pulumi/pulumi (master):
- sdk/go/common/resource/config/crypt.go: key = PBKDF2(passphrase, salt, 1,000,000 iterations,
  32 bytes, SHA-256); AES-256-GCM with a random 12-byte nonce, no associated data; a value is
  `v1:<base64 nonce>:<base64 ciphertext+tag>` (standard base64).
- pkg/secrets/passphrase/manager.go: a new stack gets an 8-byte random salt and the state
  `v1:<base64 salt>:<the plaintext "pulumi" encrypted with the derived key>` (the stack file's
  `encryptionsalt`); a passphrase is correct when that check value decrypts to "pulumi". The
  passphrase is $PULUMI_CONFIG_PASSPHRASE if set, else the whitespace-trimmed contents of
  $PULUMI_CONFIG_PASSPHRASE_FILE.
- pkg/secrets/passphrase/manager_test.go: the state
  `v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ==` opens with "password"
  (tests/unit/test_secret.py checks ours opens it too).
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import secrets as random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from mlplatform.stackconfig import PROJECT, round_trip_yaml, write_stack_file

ITERATIONS = 1_000_000
KEY_BYTES = 32
SALT_BYTES = 8
NONCE_BYTES = 12
CHECK_PLAINTEXT = "pulumi"
# structured config the program parses itself; a secret there would hide it from validation
STRUCTURED = ("platform", "tenants")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


class SecretError(Exception):
    """Refused input or a passphrase that does not open the stack's salt."""


class MissingPassphrase(SecretError):
    pass


def passphrase(environ: Mapping[str, str] = os.environ) -> str:
    """The passphrase the Pulumi CLI would use (it reads the same two variables, in this order)."""
    if "PULUMI_CONFIG_PASSPHRASE" in environ:
        return environ["PULUMI_CONFIG_PASSPHRASE"]
    path = environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as err:
            raise MissingPassphrase(
                f"cannot read PULUMI_CONFIG_PASSPHRASE_FILE {path}: {err.strerror}"
            ) from None
    raise MissingPassphrase(
        "no passphrase: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE "
        "(`mlplatform up` generates .pulumi-state/passphrase when neither is set)"
    )


def derive_key(phrase: str, salt: bytes) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, iterations=ITERATIONS)
    return kdf.derive(phrase.encode())


def encrypt(key: bytes, plaintext: str, nonce: bytes | None = None) -> str:
    nonce = nonce or random.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    return f"v1:{_b64(nonce)}:{_b64(sealed)}"


def decrypt(key: bytes, value: str) -> str:
    parts = value.split(":")
    if len(parts) != 3 or parts[0] != "v1":
        raise SecretError("not a v1 passphrase-encrypted value")
    try:
        nonce, sealed = (
            base64.b64decode(parts[1], validate=True),
            base64.b64decode(parts[2], validate=True),
        )
        if len(nonce) != NONCE_BYTES:
            raise SecretError("bad value: nonce size is incorrect")
        return AESGCM(key).decrypt(nonce, sealed, None).decode()
    except (binascii.Error, InvalidTag, UnicodeDecodeError) as err:
        raise SecretError(f"cannot decrypt: {type(err).__name__}") from None


def new_state(phrase: str) -> tuple[str, bytes]:
    """A fresh `encryptionsalt` (salt plus check value) and its key."""
    salt = random.token_bytes(SALT_BYTES)
    key = derive_key(phrase, salt)
    return f"v1:{_b64(salt)}:{encrypt(key, CHECK_PLAINTEXT)}", key


def open_state(phrase: str, state: str) -> bytes:
    """The key of an `encryptionsalt`, after its check value proves the passphrase right."""
    version, _, rest = state.partition(":")
    salt_b64, _, check = rest.partition(":")
    if version != "v1" or not check:
        raise SecretError("encryptionsalt is malformed (expected v1:<salt>:v1:<nonce>:<data>)")
    try:
        salt = base64.b64decode(salt_b64, validate=True)
    except binascii.Error:
        raise SecretError("encryptionsalt is malformed (salt is not base64)") from None
    key = derive_key(phrase, salt)
    try:
        correct = decrypt(key, check) == CHECK_PLAINTEXT
    except SecretError:
        correct = False
    if not correct:
        raise SecretError("incorrect passphrase: it does not open this stack's encryptionsalt")
    return key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- the stack file ----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    path: Path
    key: str  # `mlplatform:KEY`
    before: str  # "absent", "secret" or "plain"
    new_salt: bool
    salt_from: str | None  # where a reused salt came from (the generated workspace copy)
    text: str  # the new file text (holds ciphertext only)


def check_key(key: str) -> str:
    name = key.removeprefix(f"{PROJECT}:")
    if not _KEY.match(name):
        raise SecretError(
            f"{key!r} is not a config key (letters, digits, '_', '.', '-'; starts with a letter)"
        )
    if name in STRUCTURED:
        raise SecretError(f"{PROJECT}:{name} is structured config, not a secret; edit it in place")
    return name


def set_secret(
    path: Path, key: str, value: str, phrase: str, fallback_salt: Path | None = None
) -> Change:
    """The stack file with `mlplatform:KEY: {secure: ...}` (nothing written; see `write`).

    Without an `encryptionsalt`, the salt of `fallback_salt` (the generated workspace copy a
    previous `mlplatform up` used) is reused when this passphrase opens it, else one is made.
    """
    from ruamel.yaml.comments import CommentedMap

    name = check_key(key)
    if not value:
        raise SecretError("refusing an empty value")
    doc = round_trip_yaml().load(path.read_text())
    if not isinstance(doc, CommentedMap):
        raise SecretError(f"{path.name} is not a YAML mapping")
    config = doc.setdefault("config", CommentedMap())
    _check_read(name, config)
    state, salt_from, key_bytes = doc.get("encryptionsalt"), None, None
    if state is not None:
        key_bytes = open_state(phrase, str(state))
    elif fallback_salt is not None and fallback_salt.is_file():
        previous = (round_trip_yaml().load(fallback_salt.read_text()) or {}).get("encryptionsalt")
        try:
            key_bytes = open_state(phrase, str(previous)) if previous else None
            state, salt_from = previous and str(previous), str(fallback_salt)
        except SecretError:  # another passphrase's salt: this stack starts its own
            pass
    new_salt = key_bytes is None
    if key_bytes is None:
        state, key_bytes = new_state(phrase)
    if "encryptionsalt" not in doc:
        doc.insert(0, "encryptionsalt", state)
    full = f"{PROJECT}:{name}"
    old = config.get(full)
    before = "absent" if full not in config else "secret" if _is_secure(old) else "plain"
    config[full] = CommentedMap([("secure", encrypt(key_bytes, value))])
    out = io.StringIO()
    round_trip_yaml().dump(doc, out)
    return Change(path, full, before, new_salt, None if new_salt else salt_from, out.getvalue())


def _check_read(name: str, config: Mapping[str, Any]) -> None:
    """Only a secret key the stack's program reads (stackconfig refuses any other key)."""
    from mlplatform.stackconfig import secret_keys

    values = {k.partition(":")[2]: v for k, v in config.items() if k.startswith(f"{PROJECT}:")}
    known = sorted(secret_keys(values))
    if name not in known:
        raise SecretError(
            f"this stack reads no secret {PROJECT}:{name}; its secret keys: {known or 'none'} "
            "(platform.identity.oidc.clientSecretKey names one)"
        )


def _is_secure(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"secure"}


def write(change: Change) -> None:
    """Replace the stack file atomically, keeping its mode."""
    write_stack_file(change.path, change.text)


def read_secret(path: Path, key: str, phrase: str) -> str:
    """Decrypt one `secure:` value of a stack file (what Pulumi hands the program)."""
    import yaml

    doc = yaml.safe_load(path.read_text()) or {}
    key_bytes = open_state(phrase, str(doc.get("encryptionsalt", "")))
    value = (doc.get("config") or {}).get(f"{PROJECT}:{check_key(key)}")
    if not _is_secure(value):
        raise SecretError(f"{key} is not a secret in {path.name}")
    return decrypt(key_bytes, value["secure"])
