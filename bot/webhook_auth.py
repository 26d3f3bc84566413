"""Who may post alerts: a request signed with ALERT_WEBHOOK_SECRET (HMAC-SHA256 of the raw
body, hex, in `X-Alert-Signature` or Sentry's `Sentry-Hook-Signature`), or one carrying the
secret as a bearer token. Comparisons take constant time; nothing here is logged."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADERS = ("X-Alert-Signature", "Sentry-Hook-Signature")


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def authorized(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    for name in SIGNATURE_HEADERS:
        given = headers.get(name)
        if given:
            given = given.strip().removeprefix("sha256=").lower()
            return hmac.compare_digest(_bytes(given), _bytes(signature(secret, body)))
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    return hmac.compare_digest(_bytes(token.strip()), _bytes(secret))


def _bytes(text: str) -> bytes:
    # compare_digest refuses non-ASCII str; any header text compares fine as bytes.
    return text.encode("utf-8", "surrogateescape")
