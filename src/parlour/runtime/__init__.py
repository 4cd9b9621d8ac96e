"""parlour.runtime: the async part. Live conversations, locks, streams, timers, io, the bus."""

from parlour.runtime.connection import Connection as Connection
from parlour.runtime.live import Live as Live
from parlour.runtime.runtime import RestoreBusy as RestoreBusy
from parlour.runtime.runtime import Runtime as Runtime

__all__ = ["Connection", "Live", "RestoreBusy", "Runtime"]
