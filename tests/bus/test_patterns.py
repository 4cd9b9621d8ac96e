"""Topic grammar: NATS-style subjects; the match table is the specification."""

from __future__ import annotations

import pytest

from parlour.bus import TopicPattern, matches, validate_pattern, validate_topic
from parlour.bus.patterns import split_topic

# (pattern, topic, matches?) -- read as a table; it is also the module docstring's.
MATCH_TABLE = [
    ("agent.a", "agent.a", True),
    ("agent.a", "agent.b", False),
    ("agent.a", "agent.a.b", False),
    ("agent.a", "agent", False),
    ("agent.*", "agent.a", True),
    ("agent.*", "agent.a.b", False),
    ("agent.*", "agent", False),
    ("agent.*", "other.a", False),
    ("agent.>", "agent.a", True),
    ("agent.>", "agent.a.b", True),
    ("agent.>", "agent.a.b.c.d", True),
    ("agent.>", "agent", False),
    ("agent.>", "agents.a", False),
    ("*.started", "agent.started", True),
    ("*.started", "service.started", True),
    ("*.started", "agent.stopped", False),
    ("*.started", "agent.x.started", False),
    ("*.*", "a.b", True),
    ("*.*", "a", False),
    ("*.*", "a.b.c", False),
    ("*", "a", True),
    ("*", "a.b", False),
    (">", "a", True),
    (">", "a.b.c", True),
    ("*.>", "a", False),
    ("*.>", "a.b", True),
    ("a.*.c", "a.b.c", True),
    ("a.*.c", "a.b.d", False),
    ("a.*.>", "a.b.c", True),
    ("a.*.>", "a.b", False),
    ("service.db.status", "service.db.status", True),
    ("Agent.a", "agent.a", False),  # case-sensitive, like NATS
    ("agent-1.*", "agent-1.x", True),
    ("$sys.*", "$sys.x", True),
]


@pytest.mark.parametrize(("pattern", "topic", "expected"), MATCH_TABLE)
def test_match_table(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected
    assert TopicPattern.parse(pattern).match(split_topic(topic)) is expected


@pytest.mark.parametrize("topic", ["a", "agent.started", "service.db.status", "x-1.y_2.z:3"])
def test_valid_topics(topic: str) -> None:
    assert validate_topic(topic) == topic
    assert split_topic(topic) == tuple(topic.split("."))


@pytest.mark.parametrize(
    ("topic", "fragments"),
    [
        ("", ["invalid topic ''", "expected dot-separated tokens", "agent.started"]),
        (".a", ["invalid topic '.a'", "token 1 is empty", "leading or trailing dot"]),
        ("a.", ["invalid topic 'a.'", "token 2 is empty"]),
        ("a..b", ["token 2 is empty", "two dots in a row"]),
        ("agent.*", ["contains a wildcard", "belong in subscription patterns"]),
        ("agent.>", ["token 2 ('>') contains a wildcard"]),
        ("agent.a*", ["token 2 ('a*') contains a wildcard"]),
        ("agent started", ["contains whitespace (' ')", "NATS subjects cannot carry"]),
        ("agent.\tx", ["contains whitespace ('\\t')"]),
    ],
)
def test_invalid_topics_say_what_and_how(topic: str, fragments: list[str]) -> None:
    with pytest.raises(ValueError, match="invalid topic") as caught:
        validate_topic(topic)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize("pattern", [">", "*", "a", "a.*", "a.>", "*.b.>", "a.*.*.d"])
def test_valid_patterns(pattern: str) -> None:
    assert validate_pattern(pattern) == pattern
    assert TopicPattern.parse(pattern).text == pattern


@pytest.mark.parametrize(
    ("pattern", "fragments"),
    [
        ("", ["invalid pattern ''", "or '>' for everything"]),
        ("a..b", ["token 2 is empty"]),
        (">.a", ["'>' is token 1 of 2", "must be the last one", "'agent.*.done'"]),
        ("a.>.b", ["'>' is token 2 of 3"]),
        ("a.b*", ["token 2 ('b*') mixes a wildcard", "Wildcards are whole tokens"]),
        ("a.>>", ["token 2 ('>>') mixes a wildcard"]),
        ("a b", ["contains whitespace"]),
    ],
)
def test_invalid_patterns_say_what_and_how(pattern: str, fragments: list[str]) -> None:
    with pytest.raises(ValueError, match="invalid pattern") as caught:
        validate_pattern(pattern)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_matches_validates_both_sides() -> None:
    with pytest.raises(ValueError, match="invalid topic"):
        matches(">", "a.*")
    with pytest.raises(ValueError, match="invalid pattern"):
        matches("a.>.b", "a.x.b")
