"""Sign-up: three stock dialogs in a row, written with call/answer and resume methods.

parlour run examples.signup:app

Each step shows a dialog as a full-page frame (`call`) and names the method that receives
its answer (`resume=`). The partial answers live in the root's state, so a restart in the
middle of the sign-up loses nothing, and Back (the stock button or the browser's own) steps
into the previous dialog with what was typed there.
"""

from htpy import Element, button, h1, p, section

from parlour import App, Component, call, event
from parlour.ui import choose, confirm, prompt

PLANS = ["free", "pro"]


class Signup(Component):
    name: str = ""
    plan: str = ""
    outcome: str = ""  # "", "welcome" or "cancelled"

    def render(self) -> Element:
        if self.outcome == "welcome":
            status = f"Welcome, {self.name} ({self.plan})"
        elif self.outcome == "cancelled":
            status = "Cancelled"
        else:
            status = "Nobody has signed up yet."
        return section(self.root, class_="parlour-card parlour-dialog")[
            h1(style="margin:0;font-size:1.4rem")["Sign up"],
            p(".parlour-message.signup-status")[status],
            button(
                ".parlour-button.parlour-button--primary",
                self.on("click", "begin"),
                type="button",
            )["Sign up"],
        ]

    @event
    def begin(self):
        self.name, self.plan, self.outcome = "", "", ""
        return call(prompt("Your name?"), resume=self.named)

    def named(self, name: str):
        self.name = name.strip()
        return call(choose("Plan", PLANS), resume=self.planned)

    def planned(self, plan: str):
        self.plan = plan
        return call(confirm(f"Sign {self.name} up for {plan}?"), resume=self.confirmed)

    def confirmed(self, yes: bool) -> None:
        self.outcome = "welcome" if yes else "cancelled"


app = App(Signup, title="parlour sign-up")
