"""The console's errors: what the hub refuses, each with the HTTP status the API answers.

They live apart from the model and the hub so the pages, the API and the pure state can
all name them without importing asyncio or each other.
"""

from __future__ import annotations

__all__ = [
    "ConsoleError",
    "DuplicateQuestion",
    "InvalidAnswer",
    "InvalidRun",
    "NotAssignee",
    "QuestionClosed",
    "QuestionNotFound",
]


class ConsoleError(Exception):
    """Base of the console's errors."""


class QuestionNotFound(ConsoleError, LookupError):
    """No question has this id (the API answers 404)."""


class DuplicateQuestion(ConsoleError):
    """A question with the id the producer chose exists already (the API answers 409)."""


class InvalidAnswer(ConsoleError, ValueError):
    """The answer is empty, or not one of the question's options (the API answers 400)."""


class QuestionClosed(ConsoleError):
    """The question expired, was cancelled, or was answered differently (the API answers
    409)."""


class NotAssignee(ConsoleError, PermissionError):
    """The question is assigned to someone else: only they (a person, or a group's members)
    or an admin may answer it (the API answers 403, a page says so)."""


class InvalidRun(ConsoleError, ValueError):
    """A run cannot be launched: its target is empty, outside the project or missing, or
    its bundle is unknown (the API answers 400)."""
