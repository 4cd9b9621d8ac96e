"""The `Event` envelope: one thing that happened, as the bus carries it.

Every backend hands subscribers the same shape, so a dashboard written against the
in-process bus works unchanged on NATS:

    Event(id=42, topic="agent.blocked", time=1767225600.5, source="worker-3",
          payload={"question": "Deploy?", "options": ["yes", "no"]})

    id       assigned by the bus on publish, strictly increasing per bus (on NATS: the
             JetStream stream sequence, so it is shared by every process). It is the
             cursor for `EventBus.history(after=...)` and the key for de-duplicating
             an event seen both in history and on a live subscription.
    topic    dot-separated tokens, see `parlour.bus.patterns`
    time     unix seconds (float, UTC) taken by the publisher
    source   free text naming the publisher ("" when not given)
    payload  plain JSON data: dict / list / str / int / float / bool / None

Why these choices, against what Remora's bus did: ids are integers the bus assigns
(not random hex), so "everything after X" is a question with an answer; time is unix
seconds (not a naive local datetime); the topic is one string matched by patterns (not
a closed `category` enum plus a free `action`), so new kinds of event need no code.

What this module does not do: validate topics (`patterns` does, at publish time),
encode for a wire (each backend does), or know about subscribers.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Event", "normalise_payload"]

_SUMMARY_PAYLOAD_CHARS = 80
_json = msgspec.json.Encoder()


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One published event; immutable, and serialisable with `msgspec.json.encode`.

    Built by the bus, not by callers: `await bus.publish("agent.started", {...})`
    returns the `Event` with its `id` and `time` filled in.
    """

    id: int
    topic: str
    time: float
    source: str = ""
    payload: Any = None

    @property
    def summary(self) -> str:
        """One short line for logs and event lists: `"topic source: short payload"`.

        Strings are shown as they are, other payloads as compact JSON; anything longer
        than 80 characters is cut with an ellipsis. Parts that are empty are left out.
        """
        head = f"{self.topic} {self.source}" if self.source else self.topic
        if self.payload is None:
            return head
        return f"{head}: {_short(self.payload)}"


def _short(payload: Any) -> str:
    if isinstance(payload, str):
        text = payload
    else:
        try:
            text = _json.encode(payload).decode()
        except (TypeError, ValueError, OverflowError):
            # An Event built by hand may hold anything; a log line must never raise.
            text = repr(payload)
    text = " ".join(text.split())
    if len(text) > _SUMMARY_PAYLOAD_CHARS:
        return text[: _SUMMARY_PAYLOAD_CHARS - 1] + "…"
    return text


_json_decode = msgspec.json.Decoder()


def normalise_payload(topic: str, payload: Any) -> Any:
    """The payload exactly as a subscriber will see it: `payload` after a JSON round trip.

    Every backend passes payloads through this, so in-process delivery matches NATS:
    tuples and sets become lists, dict keys become strings, `bytes` become base64 text,
    msgspec Structs and dataclasses become dicts, NaN becomes None. It also detaches the
    event from the publisher's objects: changing the dict after `publish` changes nothing.
    (In-process subscribers and history do share the one `Event`, payload included, so
    consumers treat payloads as read-only, as they must on any bus.) Raises `TypeError`
    for a payload that JSON cannot carry.
    """
    if payload is None or type(payload) in (str, int, bool):
        return payload  # immutable and JSON-exact already: skip the round trip
    try:
        return _json_decode.decode(_json.encode(payload))
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(
            f"publish({topic!r}, ...): the payload is not JSON data ({exc}). Expected "
            "dict / list / str / int / float / bool / None (msgspec Structs and "
            f"dataclasses are fine too), got {type(payload).__name__}: {payload!r:.120}. "
            "Convert it first, e.g. publish a dict of its fields, or str(value)."
        ) from exc
