"""The gateway's token keys: made per installation, rotated with an overlap, retired.

Files (``Settings.signing_key_path`` and ``Settings.public_keys_path``; in development both under
``<var_dir>/keys/``):

- ``token-signing-key.pem``: the Ed25519 private key that signs new tokens (PKCS#8 PEM, mode 0600).
  Only the gateway reads it.
- ``jwks.json``: the public keys that verify tokens, the signing key's first. Services read this file
  (or the gateway's ``/.well-known/jwks.json``, which serves it); it holds nothing secret.

Outside production the gateway makes the pair on its first start (``ensure_keys`` in its lifespan);
in production it refuses to start without a configured, existing key: make one with ``init``.

Rotation with an overlap: ``rotate`` publishes a new public key, then makes its private key the
signing one; the previous public key stays in the JWKS, so tokens it signed keep verifying until they
expire. ``retire`` then removes every public key but the signing one (by default it refuses while a
token signed before the last rotation may still be valid).

    python -m gateway.keys show | init | rotate | retire [--kid KID] [--force]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import MissingSigningKey, SigningKey, public_jwk, read_signing_key
from shared.settings import Settings, get_settings

PUBLIC_MEMBERS = ("kty", "crv", "x", "kid", "use", "alg")


class KeysRefused(RuntimeError):
    """A key operation that would break tokens still in use, or run where it must not."""


def _write_atomically(path: Path, data: bytes, mode: int, *, exclusive: bool = False) -> bool:
    """Write ``path`` so no reader ever sees half a file; ``exclusive``: only if it does not exist yet
    (False then: another process made it first)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)  # whatever the umask said
        if not exclusive:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def read_jwks(path: Path) -> list[dict[str, Any]]:
    """The JWKS file's keys, public members only ([] when there is no file yet)."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    return [
        {k: v for k, v in entry.items() if k in PUBLIC_MEMBERS}
        for entry in document.get("keys", [])
        if isinstance(entry, dict) and isinstance(entry.get("kid"), str)
    ]


def write_jwks(path: Path, keys: list[dict[str, Any]]) -> None:
    body = json.dumps({"keys": keys}, indent=2) + "\n"
    _write_atomically(path, body.encode(), 0o644)


def _published(settings: Settings, current: SigningKey) -> list[dict[str, Any]]:
    """The JWKS, written only when it lacks the signing key (which then goes first; others are kept):
    a JWKS that already publishes it may be read-only."""
    path = settings.public_keys_path
    keys = read_jwks(path)
    if any(k["kid"] == current.kid for k in keys):
        return keys
    keys = [public_jwk(current.private_key.public_key()), *(k for k in keys if k["kid"] != current.kid)]
    write_jwks(path, keys)
    return keys


def ensure_keys(settings: Settings) -> SigningKey:
    """The signing key, with its public key published. Outside production a missing pair is made
    (once, even when several gateway processes start together); production refuses to start."""
    path = settings.signing_key_path
    if settings.is_production and settings.token_signing_key_file is None:
        raise MissingSigningKey("WEIMIN_TOKEN_SIGNING_KEY_FILE must name the gateway's key in production")
    if not path.exists():
        if settings.is_production:
            raise MissingSigningKey(
                f"No token signing key at {path}; create it with `python -m gateway.keys init` "
                "(the gateway never makes one in production)"
            )
        _write_atomically(path, _private_pem(Ed25519PrivateKey.generate()), 0o600, exclusive=True)
    current = read_signing_key(path)
    _published(settings, current)
    return current


def init(settings: Settings) -> SigningKey:
    """Make the key pair where the settings say (production included); an existing key is kept."""
    path = settings.signing_key_path
    if not path.exists():
        _write_atomically(path, _private_pem(Ed25519PrivateKey.generate()), 0o600, exclusive=True)
    current = read_signing_key(path)
    _published(settings, current)
    return current


def rotate(settings: Settings) -> tuple[str, str]:
    """A new signing key; the previous public key keeps verifying. Returns (new kid, previous kid).

    The new public key is published before its private key signs anything, so a service reading the
    JWKS file never meets a token signed by a key it cannot know."""
    previous = ensure_keys(settings)
    fresh = Ed25519PrivateKey.generate()
    jwk = public_jwk(fresh.public_key())
    others = [k for k in read_jwks(settings.public_keys_path) if k["kid"] != jwk["kid"]]
    write_jwks(settings.public_keys_path, [jwk, *others])
    _write_atomically(settings.signing_key_path, _private_pem(fresh), 0o600)
    return jwk["kid"], previous.kid


def retire(settings: Settings, kid: str | None = None, *, force: bool = False) -> list[str]:
    """Stop trusting old public keys (``kid``, or every one but the signing key's); the kids removed.

    Refused, unless ``force``, while a token signed before the last rotation may still be valid
    (the signing key is younger than the token lifetime)."""
    current = read_signing_key(settings.signing_key_path)
    if kid == current.kid:
        raise KeysRefused("That is the signing key: rotate first, then retire the old one")
    age = time.time() - settings.signing_key_path.stat().st_mtime
    if not force and age < settings.token_ttl_seconds:
        wait = int(settings.token_ttl_seconds - age) + 1
        raise KeysRefused(
            f"Tokens signed before the last rotation may be valid for {wait} s more; retire after that "
            "(or --force, which logs those callers out)"
        )
    keys = read_jwks(settings.public_keys_path)
    removed = [k["kid"] for k in keys if k["kid"] != current.kid and (kid is None or k["kid"] == kid)]
    if removed:
        write_jwks(settings.public_keys_path, [k for k in keys if k["kid"] not in removed])
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.keys", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="the signing key and the published public keys")
    commands.add_parser("init", help="make the key pair if there is none (production's first step)")
    commands.add_parser("rotate", help="a new signing key; the previous one keeps verifying")
    retiring = commands.add_parser("retire", help="stop trusting the previous key(s)")
    retiring.add_argument("--kid", help="only this key (default: every key but the signing one)")
    retiring.add_argument("--force", action="store_true", help="even while its tokens may be valid")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        if args.command == "init":
            key = init(settings)
            print(f"Signing key {key.kid} at {settings.signing_key_path}")
        elif args.command == "rotate":
            new, old = rotate(settings)
            print(f"Signing with {new}; {old} still verifies until `python -m gateway.keys retire`")
        elif args.command == "retire":
            removed = retire(settings, args.kid, force=args.force)
            print("Retired: " + (", ".join(removed) if removed else "nothing (no other key)"))
        current = read_signing_key(settings.signing_key_path)
        print(f"Signing key: {current.kid} ({settings.signing_key_path})")
        for entry in read_jwks(settings.public_keys_path):
            print(f"  verifies: {entry['kid']}{'  (signing)' if entry['kid'] == current.kid else ''}")
        print(f"Public keys: {settings.public_keys_path}")
    except (KeysRefused, MissingSigningKey) as exc:
        print(f"Refused: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
