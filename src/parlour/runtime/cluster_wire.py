"""What the nodes of a cluster write for each other: stored values and batch notices.

Two formats, both private to parlour (every node runs the same release, or one a deploy
apart: each format starts with a version the reader checks).

A stored value (the bytes in the shared store) wraps the kernel's conversation bytes with
what every node must agree on, so any node continues where another stopped:

    b"PLC2" + msgpack [epoch, seq, marks, conversation]

    epoch         8 ASCII characters, fixed for the conversation's life (SSE ids EPOCH.SEQ)
    seq           the number of the newest batch of fragments
    marks         {subscription: id of the last bus event applied}: every node holding the
                  conversation hears its bus events, and the first to save one wins; the
                  others see the mark and skip it (exactly once, in bus order)
    conversation  as `parlour.core.codec.encode` wrote it

A batch notice is what a node publishes after each save on the conversation's subject
(`parlour.runtime.cluster`): msgpack of `Notice`. Nodes holding the conversation learn the
new revision and get the new value (so their next event needs no read from the store), its
bus subscriptions, and the fragments with their sequence number, which they hand to the
conversation's streams in order. A notice of an ended conversation closes them.

What this module does not do: talk to NATS, or decide anything.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec

from parlour.core.conversation import Subscription
from parlour.core.fragments import Close, Elements, Fragment, History, Redirect, Script, Signals

__all__ = [
    "Notice",
    "Stored",
    "WireError",
    "decode_fragments",
    "decode_notice",
    "encode_notice",
    "pack",
    "unpack",
]

_MAGIC = b"PLC2"


class WireError(ValueError):
    """Bytes another node wrote that this node cannot read (damage, or another release)."""


_encode = msgspec.msgpack.Encoder().encode


class Stored(msgspec.Struct, array_like=True, frozen=True):
    """A conversation as the shared store keeps it (see the module docstring)."""

    epoch: str
    seq: int
    marks: dict[str, int]
    conversation: bytes


def pack(value: Stored) -> bytes:
    return _MAGIC + _encode(value)


def unpack(data: bytes) -> Stored:
    if data[:4] != _MAGIC:
        raise WireError(
            f"a stored conversation should start with {_MAGIC!r}, found {data[:4]!r}: it was "
            "not written by a parlour cluster node (a store shared with a single-node app?)"
        )
    try:
        return _decode_stored(data[4:])
    except msgspec.DecodeError as exc:
        raise WireError(f"a stored conversation that does not decode: {exc}") from exc


class Notice(msgspec.Struct, array_like=True, frozen=True):
    """One save of a conversation, as the node that made it tells the others."""

    version: int
    node: str
    """The node that saved (it delivered to its own streams already)."""
    rev: int
    """The store revision of the new value."""
    seq: int
    """The batch number of `frags` (unchanged from the previous save when there are none)."""
    epoch: str
    urgent: bool
    """The answer to a tab's own click: send at once, without the coalescing window."""
    ended: bool
    subs: list[tuple[str, str, str]]
    """The conversation's bus subscriptions now: (iid, pattern, method)."""
    frags: msgspec.Raw
    """The fragments, decoded only by a node that has streams to give them to."""
    value: bytes
    """The stored value itself (`pack`), so a node holding the conversation has the newest
    copy without asking the store (empty when the conversation ended)."""


_VERSION = 2
_decode_notice = msgspec.msgpack.Decoder(Notice).decode
_decode_stored = msgspec.msgpack.Decoder(Stored).decode
_decode_list = msgspec.msgpack.Decoder(list[list[Any]]).decode


def encode_notice(
    *,
    node: str,
    rev: int,
    seq: int,
    epoch: str,
    urgent: bool,
    ended: bool,
    subs: tuple[Subscription, ...],
    fragments: tuple[Fragment, ...],
    value: bytes,
) -> bytes:
    return _encode(
        Notice(
            _VERSION,
            node,
            rev,
            seq,
            epoch,
            urgent,
            ended,
            [(s.iid, s.pattern, s.method) for s in subs],
            msgspec.Raw(_encode([_fragment(f) for f in fragments])),
            value,
        )
    )


def decode_notice(data: bytes) -> Notice:
    try:
        notice = _decode_notice(data)
    except msgspec.DecodeError as exc:
        raise WireError(f"a batch notice that does not decode: {exc}") from exc
    if notice.version != _VERSION:
        raise WireError(
            f"a batch notice of format {notice.version}; this node reads {_VERSION} (nodes of "
            "two parlour releases that do not share a notice format serve one app)"
        )
    return notice


def decode_fragments(notice: Notice) -> tuple[Fragment, ...]:
    return tuple(_unfragment(item) for item in _decode_list(notice.frags))


def _fragment(f: Fragment) -> list[Any]:
    match f:
        case Elements(html, selector, mode, key, error):
            return ["E", html, selector, mode, key, error]
        case Signals(data, only_if_missing):
            return ["S", dict(data), only_if_missing]
        case Script(js):
            return ["J", js]
        case History(depth, url, mode):
            return ["H", depth, url, mode]
        case Redirect(url):
            return ["R", url]
        case Close():
            return ["C"]


def _unfragment(item: list[Any]) -> Fragment:
    match item:
        case ["E", str(html), selector, str(mode), key, bool(error)]:
            return Elements(html, selector, mode, key, error)  # pyright: ignore[reportArgumentType]
        case ["S", data, bool(only)] if isinstance(data, dict):
            return Signals(cast(dict[str, Any], data), only)
        case ["J", str(js)]:
            return Script(js)
        case ["H", int(depth), url, str(mode)]:
            return History(depth, url, mode)  # pyright: ignore[reportArgumentType]
        case ["R", str(url)]:
            return Redirect(url)
        case ["C"]:
            return Close()
        case _:
            raise WireError(f"a fragment this node does not know: {item!r:.200}")
