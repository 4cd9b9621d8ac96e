"""The session-signing secret every node of a cluster uses, kept in NATS.

A cookie minted by one node must be accepted by all the others, so the nodes sign with one
secret. Unless the deployment gives one (`PARLOUR_SECRET`, or `App(secret=...)`, which win),
the first node to start creates it in the `<bucket>-meta` key-value bucket with a
compare-and-set on "nothing there yet"; a node that loses that race (two nodes starting at
once) reads the winner's. Nobody ever overwrites it, so sessions survive every restart.

What this module does not do: sign anything (`parlour.web.session`).
"""

from __future__ import annotations

import secrets

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from parlour.runtime.cluster_timers import ensure_bucket

__all__ = ["SECRET_KEY", "shared_secret"]

SECRET_KEY = "session-secret"


async def shared_secret(client: Client, bucket: str, *, timeout: float = 5.0) -> str:
    """The cluster's session secret, created by whichever node asks first."""
    kv = await ensure_bucket(JetStreamContext(client, timeout=timeout), f"{bucket}-meta")
    for _ in range(3):  # absent, then created by someone else: read theirs
        try:
            entry = await kv.get(SECRET_KEY)
        except KeyNotFoundError:
            pass
        else:
            if entry.value:
                return entry.value.decode()
        mine = secrets.token_urlsafe(32)
        try:
            await kv.create(SECRET_KEY, mine.encode())
        except KeyWrongLastSequenceError:
            continue
        return mine
    raise RuntimeError(
        f"the session secret in bucket {bucket}-meta key {SECRET_KEY!r} could neither be read "
        "nor created; check the NATS account's permissions on that bucket"
    )
