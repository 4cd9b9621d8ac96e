"""parlour.core: the pure part of parlour. No I/O, no asyncio, no HTTP, no Datastar SDK.

Modules, one concept each: `component` (classes, state, render helpers, registry),
`effects` (what handlers return), `fragments` (browser updates), `commands` (side effects for
the runtime), `conversation` (the data model and its codec), `kernel` (the fold), `flow`
(generator components), `errors`. A test enforces that nothing here imports a lower layer.
"""
