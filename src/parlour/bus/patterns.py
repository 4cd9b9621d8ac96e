"""Topics and topic patterns: NATS-style subjects, one grammar for every backend.

A **topic** names what happened: tokens separated by dots, e.g. `agent.started` or
`service.db.status`. A **pattern** selects topics, with two wildcards that must each be
a whole token:

    *   exactly one token        agent.*   matches agent.a        not agent.a.b
    >   one or more tokens, last agent.>   matches agent.a and agent.a.b, not agent

    pattern        topic           match
    agent.a        agent.a         yes
    agent.*        agent.a         yes
    agent.*        agent.a.b       no
    agent.>        agent.a.b       yes
    agent.>        agent           no      (`>` needs at least one token)
    *.started      agent.started   yes
    >              anything        yes

The grammar is the NATS subject grammar on purpose: `NatsBus` maps a pattern straight
to a NATS subscription and a JetStream filter, so the in-process bus and NATS agree on
every match. Tokens may not be empty and may not contain whitespace (NATS forbids it);
a published topic may not contain wildcards at all, and `>` may only come last.

Everything that takes a topic or pattern from a caller validates it here and raises
`ValueError` saying what was received, what is expected, and how to fix it; a typo
fails at the call, not as a subscription that silently never fires.

What this module does not do: map topics to NATS subjects (the NATS backend adds its
prefix), or index many patterns (a backend groups subscriptions by pattern text).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

__all__ = ["TopicPattern", "matches", "split_topic", "validate_pattern", "validate_topic"]

_WHITESPACE = frozenset(" \t\r\n\f\v")
_EXAMPLES = "e.g. 'agent.started' or 'service.db.status'"


def validate_topic(topic: str) -> str:
    """Return `topic` unchanged if it is a valid published topic, else raise `ValueError`."""
    split_topic(topic)
    return topic


@lru_cache(maxsize=4096)
def split_topic(topic: str) -> tuple[str, ...]:
    """The tokens of a valid topic; raises `ValueError` for an invalid one.

    Cached: a bus sees the same few topics over and over, so validation and splitting
    cost one dictionary lookup after the first publish of each topic.
    """
    tokens = _tokens(topic, what="topic")
    for index, token in enumerate(tokens):
        if "*" in token or ">" in token:
            raise ValueError(
                f"invalid topic {topic!r}: token {index + 1} ({token!r}) contains a "
                "wildcard. Published topics name one concrete thing; wildcards ('*', '>') "
                f"belong in subscription patterns. Use a plain topic, {_EXAMPLES}."
            )
    return tokens


def validate_pattern(pattern: str) -> str:
    """Return `pattern` unchanged if it is a valid pattern, else raise `ValueError`."""
    TopicPattern.parse(pattern)
    return pattern


def matches(pattern: str, topic: str) -> bool:
    """Whether `pattern` selects `topic`; both are validated first."""
    return TopicPattern.parse(pattern).match(split_topic(topic))


@dataclass(frozen=True, slots=True)
class TopicPattern:
    """A parsed, validated pattern, ready to test topic tokens quickly.

    Build with `TopicPattern.parse(text)`; `match` takes the tokens of a topic (see
    `split_topic`) so that a bus splits each published topic once, not once per
    subscriber.
    """

    text: str
    tokens: tuple[str, ...]
    # Precomputed shape, so that `match` does no string inspection per call.
    literal: bool
    tail: bool

    @staticmethod
    @lru_cache(maxsize=1024)
    def parse(pattern: str) -> TopicPattern:
        tokens = _tokens(pattern, what="pattern")
        last = len(tokens) - 1
        for index, token in enumerate(tokens):
            if token in ("*", ">"):
                if token == ">" and index != last:
                    raise ValueError(
                        f"invalid pattern {pattern!r}: '>' is token {index + 1} of "
                        f"{len(tokens)}, but it matches all remaining tokens so it must be "
                        "the last one. Use '*' for exactly one token in the middle, e.g. "
                        "'agent.*.done', or end with '>', e.g. 'agent.>'."
                    )
            elif "*" in token or ">" in token:
                raise ValueError(
                    f"invalid pattern {pattern!r}: token {index + 1} ({token!r}) mixes a "
                    "wildcard with other characters. Wildcards are whole tokens: write "
                    "'agent.*' (one token) or 'agent.>' (the rest), not 'agent.a*'."
                )
        wild = "*" in tokens or tokens[-1] == ">"
        return TopicPattern(text=pattern, tokens=tokens, literal=not wild, tail=tokens[-1] == ">")

    def match(self, topic_tokens: tuple[str, ...]) -> bool:
        """Whether this pattern selects a topic given as its tokens."""
        mine = self.tokens
        if self.literal:
            return mine == topic_tokens
        if self.tail:
            fixed = len(mine) - 1
            if len(topic_tokens) <= fixed:
                return False
        elif len(topic_tokens) != len(mine):
            return False
        else:
            fixed = len(mine)
        for index in range(fixed):
            want = mine[index]
            if want != "*" and want != topic_tokens[index]:
                return False
        return True


def _tokens(text: str, *, what: str) -> tuple[str, ...]:
    if not text:
        raise ValueError(
            f"invalid {what} '': expected dot-separated tokens, {_EXAMPLES}"
            + (", or '>' for everything." if what == "pattern" else ".")
        )
    bad = _WHITESPACE.intersection(text)
    if bad:
        raise ValueError(
            f"invalid {what} {text!r}: it contains whitespace ({''.join(sorted(bad))!r}), "
            f"which NATS subjects cannot carry. Use dots or dashes instead, {_EXAMPLES}."
        )
    tokens = tuple(text.split("."))
    for index, token in enumerate(tokens):
        if not token:
            raise ValueError(
                f"invalid {what} {text!r}: token {index + 1} is empty (a leading or "
                f"trailing dot, or two dots in a row). Expected non-empty tokens joined by "
                f"single dots, {_EXAMPLES}."
            )
    return tokens
