"""Signing secrets in Standard Webhooks' form: ``whsec_`` and the key's base64 (24 to 64
bytes); the HMAC key is the decoded bytes."""

from __future__ import annotations

import base64
import binascii
import secrets

PREFIX = "whsec_"
MIN_BYTES, MAX_BYTES = 24, 64


class SecretError(ValueError):
    pass


def generate() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def key_of(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise SecretError(f"the secret must look like {PREFIX}<base64> (Standard Webhooks)")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SecretError(f"the part after {PREFIX} is not base64") from None
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise SecretError(
            f"the secret's key is {len(key)} bytes; it must be {MIN_BYTES} to {MAX_BYTES}"
        )
    return key
