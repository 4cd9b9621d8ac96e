"""parlour.devtools: the inspector, an overlay for apps in dev mode (stube's "halos").

    parlour run --dev app:app         or App(Root, dev=True)

Every page of an app in dev mode gets a toggle (a button, and Alt+Shift+D) that opens a side
panel on its conversation: the component tree, the chosen instance's state, the history
step by step with what made each step, the signals, the open streams and their queues, the
timers and the subscriptions, all live. Choosing a past step shows the page as it was then,
read-only; "resume from here" makes that step current. Off by default: without dev mode the
inspector's routes do not exist and nothing of it is in the page.

    model.py      what the inspector shows of a conversation, as plain values (pure)
    steps.py      the step log: what made each step, recorded only in dev mode
    panel.py      the HTML: the page's tail, the panel, the time-travel view
    routes.py     Inspector: the step log and the routes under BASE/dev (plain ASGI)
    static/       the panel's script and stylesheet

`parlour inspect` (`parlour.cli_inspect`) shows the conversations of a store whose server is
stopped, with the same model. See docs/decisions/0010-inspector.md.
"""
