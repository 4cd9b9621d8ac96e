"""The signup of examples/signup.py, written as one flow. It survives a server restart.

    parlour run examples.wizard:app

The flow is sequential code; each `yield` shows a dialog and resumes with its answer. Its
state is the answers so far, so after a crash the flow is replayed up to where it stopped.
"""

from typing import Any

from htpy import Element, button, div, p

from parlour import App, Component, call, event, flow
from parlour.ui import choose, confirm, prompt


@flow
def signup() -> Any:
    name = yield prompt("Your name?")
    plan = yield choose("Plan", ["free", "pro"])
    if (yield confirm(f"Sign {name} up for {plan}?")):
        return {"name": name, "plan": plan}
    return None


class Wizard(Component):
    outcome: str = ""

    def render(self) -> Element:
        return div(self.root, class_="parlour-card")[
            p(".outcome")[self.outcome] if self.outcome else None,
            button(".parlour-button.parlour-button--primary", self.on("click", "begin"))["Sign up"],
        ]

    @event
    def begin(self) -> Any:
        return call(signup(), resume=self.finished)

    def finished(self, result: dict[str, str] | None) -> None:
        self.outcome = f"Welcome, {result['name']} ({result['plan']})" if result else "Cancelled"


app = App(Wizard, title="parlour wizard")
