"""Signed verdicts: how the scorecard tells a real `check` from a printed "passed".

When the scorecard (`python -m dropout_lib.grade`) runs a notebook, it starts the kernel with
a fresh random secret in the environment variable `GRADING_KEY_VARIABLE`. This module takes
the secret out of the environment when it is imported, and `check` then sends every verdict
to the scorecard as a record signed with it (HMAC-SHA256), displayed as an output of the
private type `VERDICT_MIMETYPE`. The record carries the exercise's `fingerprint`, a hash of its
checker's code and stored answers, which the scorecard compares with its own copy. Outside
the scorecard there is no secret, nothing extra is displayed, and stored outputs stay the same.

What it protects: a printed verdict line, a replaced `check`, `CheckResult` or registry entry,
and a hand-made record pass nothing. What it does not: code in the kernel can read the secret
from this module's memory and sign anything; the threat model is an honest learner protected
from accidents, not a determined cheater.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import types
from collections.abc import Callable
from typing import Any

__all__ = ["GRADING_KEY_VARIABLE", "VERDICT_MIMETYPE", "fingerprint", "new_secret", "send",
           "sign", "verdict_sender", "verify"]

VERDICT_MIMETYPE = "application/vnd.dropout-course.verdict+json"
GRADING_KEY_VARIABLE = "DROPOUT_COURSE_GRADING_KEY"


def new_secret() -> str:
    """A fresh per-run secret (the scorecard starts one per kernel)."""
    return secrets.token_hex(32)


def sign(payload: str, key: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify(raw: Any, key: str) -> dict | None:
    """The record inside a displayed `raw` output if its signature is `key`'s, else None."""
    if not isinstance(raw, dict):
        return None
    payload, signature = raw.get("payload"), raw.get("signature")
    if not isinstance(payload, str) or not isinstance(signature, str):
        return None
    if not hmac.compare_digest(sign(payload, key), signature):
        return None
    try:
        record = json.loads(payload)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _hash_into(digest: Any, value: Any, depth: int = 0) -> None:
    """Feed a stable description of `value` (code, constants, closures) into `digest`."""
    if depth > 6:
        return
    if isinstance(value, types.FunctionType):
        _hash_into(digest, value.__code__, depth + 1)
        for cell in value.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                contents = None
            _hash_into(digest, contents, depth + 1)
    elif isinstance(value, types.CodeType):
        digest.update(value.co_code)
        digest.update(repr((value.co_names, value.co_varnames, value.co_freevars)).encode())
        for const in value.co_consts:
            _hash_into(digest, const, depth + 1)
    elif isinstance(value, tuple | list):
        digest.update(b"(")
        for item in value:
            _hash_into(digest, item, depth + 1)
        digest.update(b")")
    elif isinstance(value, dict):
        _hash_into(digest, sorted(value.items(), key=lambda kv: repr(kv[0])), depth + 1)
    elif isinstance(value, frozenset | set):
        digest.update(repr(sorted(repr(item) for item in value)).encode())
    elif value is None or isinstance(value, str | bytes | int | float | complex):
        digest.update(repr(value).encode())
    else:  # objects whose repr may hold an address: their type is enough
        digest.update(type(value).__qualname__.encode())


def fingerprint(item: Any) -> str:
    """A short hash of an exercise's id, title, kind, points and checker (code and closure).

    The scorecard compares the fingerprint a notebook's kernel reports with its own, so a
    check replaced inside the notebook is not taken for the course's.
    """
    digest = hashlib.sha256(repr((item.id, item.title, item.kind, item.points)).encode())
    _hash_into(digest, item.checker)
    return digest.hexdigest()[:20]


def verdict_sender(secret: str | None) -> Callable[[dict], None] | None:
    """A function that displays a signed verdict record, or None when not grading."""
    if not secret:
        return None
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - the scorecard always runs an IPython kernel
        return None
    counter = iter(range(1, 1 << 62))

    def send_record(record: dict) -> None:
        payload = json.dumps({**record, "seq": next(counter)}, sort_keys=True)
        display({VERDICT_MIMETYPE: {"payload": payload, "signature": sign(payload, secret)}},
                raw=True)

    return send_record


# The secret leaves the environment at once, so learner code that lists os.environ or starts
# subprocesses does not see it; it lives on only inside `_sender`.
_sender = verdict_sender(os.environ.pop(GRADING_KEY_VARIABLE, None))


def send(record: dict) -> None:
    """Send `record` to the scorecard, signed; does nothing outside the scorecard."""
    if _sender is not None:
        _sender(record)
