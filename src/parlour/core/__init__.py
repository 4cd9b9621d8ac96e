"""parlour.core: the pure part of parlour. No I/O, no asyncio, no HTTP, no Datastar SDK.

Modules, one concept each:

    component      the Component class, `@event`, the registry, render helpers (on, bind, slot)
    state          which attributes are state fields, and their codec (encode, decode, clone)
    effects        what handlers return             fragments  browser updates, wire-neutral
    commands       side effects for the runtime     routes     parlour's URL shapes
    actions        the Protocol through which components get Datastar expressions (from wire)
    conversation   the data model                   codec      its stored form, history entries
    kernel         entry points, the fold of effects, call/answer
    fold           the kernel's working copy and its Step
    tree           creating, walking and removing instances
    render         HTML, mounting, error blocks     keyed      keyed-list reconciliation
    history        snapshots for back, the page URL projection
    handlers       calling user methods and reading their results
    flow           generator components             context    services and shared views
    errors         the exceptions

A test enforces that nothing here imports a layer above it, and another that no string here is
JavaScript.
"""
