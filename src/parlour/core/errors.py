"""The exceptions parlour raises to developers.

    ParlourError
     ├── ComponentDefinitionError   a Component subclass is malformed (checked at class creation)
     ├── UnknownComponentError      a stored conversation names a component no longer registered
     ├── HandlerReturnError         a handler or hook returned something that is not an effect
     ├── EffectError                an effect was built or used wrongly (e.g. answer from a root)
     │    └── SignalError           a kept signal does not fit its field (bad input: HTTP 400)
     ├── StateError                 component state cannot be serialised
     ├── RenderError                render() produced HTML the kernel cannot patch by id
     └── FlowReplayError            a flow replayed differently from how it ran first

Every message says what was expected, what was received, and how to fix it. None of these is
ever shown to a browser as a 500: the kernel turns failures inside a handler or a render into an
error block in the page (see `kernel`), and the web layer answers bad input with a 4xx.
"""

from __future__ import annotations

__all__ = [
    "ComponentDefinitionError",
    "EffectError",
    "FlowReplayError",
    "HandlerReturnError",
    "ParlourError",
    "RenderError",
    "SignalError",
    "StateError",
    "UnknownComponentError",
]


class ParlourError(Exception):
    """Base class of every error parlour raises on purpose."""


class ComponentDefinitionError(ParlourError, TypeError):
    """Raised when a Component subclass is defined in a way parlour cannot use."""


class UnknownComponentError(ParlourError, LookupError):
    """Raised when a conversation names a component type that is not registered."""


class HandlerReturnError(ParlourError, TypeError):
    """Raised when a handler, resume method or hook returns something that is not an effect."""


class EffectError(ParlourError, ValueError):
    """Raised when an effect is constructed with bad arguments or used where it cannot apply."""


class SignalError(EffectError):
    """Raised when a signal the browser sent does not fit the kept field it names."""


class StateError(ParlourError, TypeError):
    """Raised when a component's state holds a value that cannot be serialised."""


class RenderError(ParlourError, ValueError):
    """Raised when render() returns HTML whose outermost element does not carry the instance id."""


class FlowReplayError(ParlourError, RuntimeError):
    """Raised when restoring a flow yields a different component than the one recorded."""
