"""`MemoryStore`: conversations in a dict, gone when the process ends.

For tests and throwaway demos: nothing survives a restart, which is exactly what a test
wants and exactly what production must not have (use `SqliteStore` there).

    {cid: (data, touched, records)}     data: the whole conversation (records None), or
                                        its head, completed by its history records

A `RecordStore`: the runtime saves a conversation as its head and its history records, the
bytes objects its snapshots hold (nobody changes them), so the save of a click encodes the
head and one new record and copies nothing; `load` joins them into the bytes `encode` gives.

It records no format version: the bytes never outlive the process that wrote them, so
no other parlour release can ever read them. Every method finishes without awaiting
anything; the `async` signatures exist only to keep the `ConversationStore` contract.

What it does not do: limit or evict (the runtime's reaper decides what to forget).
"""

from __future__ import annotations

from parlour.core.codec import join

from .protocol import check_cid, check_touched

__all__ = ["MemoryStore"]


class MemoryStore:
    """A `ConversationStore` (and `RecordStore`) backed by a dict in this process."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[bytes, float, list[bytes] | None]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._rows)} conversations)"

    def describe(self) -> str:
        return "memory"

    async def save(self, cid: str, data: bytes, *, touched: float) -> None:
        self._check_open()
        self._keep(cid, data if type(data) is bytes else bytes(data), touched, None)

    async def save_records(
        self, cid: str, head: bytes, records: list[bytes], *, touched: float
    ) -> None:
        self._check_open()
        self._keep(cid, head, touched, records)

    def _keep(self, cid: str, data: bytes, touched: float, records: list[bytes] | None) -> None:
        rows = self._rows
        if cid not in rows:  # a cid already held passed the check when it was first saved
            check_cid(cid)
        if type(touched) is not float or touched - touched != 0.0:  # not a finite float
            touched = check_touched(touched)
        rows[cid] = (data, touched, records or None)  # no empty list held per conversation

    async def load(self, cid: str) -> bytes | None:
        self._check_open()
        row = self._rows.get(check_cid(cid))
        if row is None:
            return None
        data, _, records = row
        return join(data, records) if records else data  # a head without history is whole

    async def delete(self, cid: str) -> None:
        self._check_open()
        self._rows.pop(check_cid(cid), None)

    async def idle_since(self, before: float) -> list[str]:
        self._check_open()
        idle = [(touched, cid) for cid, (_, touched, _) in self._rows.items() if touched < before]
        return [cid for _, cid in sorted(idle)]

    async def count(self) -> int:
        self._check_open()
        return len(self._rows)

    async def close(self) -> None:
        self._closed = True
        self._rows.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(
                "MemoryStore is closed (its conversations were dropped); "
                "open a new store instead of reusing a closed one"
            )
