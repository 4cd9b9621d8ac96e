"""The stock dialogs: prompt, confirm, choose and info, as frames, in slots and in flows."""

from __future__ import annotations

from typing import Any

from htpy import Element, div, p
from markupsafe import escape

from parlour import Component, call, call_in_slot, event, flow
from parlour.core.component import kebab_case, lookup
from parlour.core.effects import Effect
from parlour.testing import Harness
from parlour.ui import Choose, Confirm, Info, Prompt, choose, confirm, info, prompt


class Asker(Component):
    """Calls whatever dialog it is given and keeps the answers."""

    answers: list[Any] = []

    def render(self) -> Element:
        return div(self.root)[p[f"answers {self.answers}"]]

    @event
    def ask(self, which: str) -> Effect:
        dialogs: dict[str, Component] = {
            "prompt": prompt("Your name?", "Ada"),
            "confirm": confirm("Sure?"),
            "choose": choose("Colour", ["red", "green", 3]),
            "info": info("Saved."),
        }
        return call(dialogs[which], resume=self.answered)

    def answered(self, value: Any) -> None:
        self.answers = [*self.answers, value]


def asked(which: str) -> Harness:
    h = Harness(Asker)
    h.dispatch(None, "ask", which)
    return h


def test_helpers_build_the_stock_components() -> None:
    assert prompt("Name?") == Prompt(label="Name?", value="")
    assert prompt("Name?", "Bob") == Prompt(label="Name?", value="Bob")
    assert confirm("Sure?") == Confirm(question="Sure?")
    options = ["a", "b"]
    dialog = choose("Pick", options)
    options.append("c")
    assert dialog == Choose(label="Pick", options=["a", "b"])  # the list was copied
    assert info("Done") == Info(message="Done")


def test_stock_components_have_stable_registered_names() -> None:
    for cls in (Prompt, Confirm, Choose, Info):
        assert lookup(f"parlour.ui.{cls.__name__}") is cls


def test_prompt_renders_a_form_with_a_local_input_prefilled() -> None:
    h = asked("prompt")
    html = h.html
    assert html.startswith('<form id="p2"')
    assert "data-on:submit=" in html
    assert "/event/test/p2/submit" in html
    assert '<label class="parlour-label" for="p2-input">Your name?</label>' in html
    assert f"data-bind:{kebab_case('value-p2')}__case.kebab" in html
    assert 'value="Ada"' in html
    assert "autofocus" in html


def test_prompt_answers_what_the_user_typed_in_its_local_signal() -> None:
    h = asked("prompt")
    h.dispatch(Prompt, "submit", signals={"value-p-2": "Grace", "value": "someone else's"})
    assert h.top == Asker(answers=["Grace"])


def test_prompt_answers_its_default_when_nothing_was_typed() -> None:
    h = asked("prompt")
    h.dispatch(Prompt, "submit")
    assert h.top == Asker(answers=["Ada"])


def test_confirm_answers_true_or_false() -> None:
    h = asked("confirm")
    assert ">Sure?</p>" in h.html
    assert "/event/test/p2/yes" in h.html
    assert "/event/test/p2/no" in h.html
    h.dispatch(Confirm, "yes")
    h.dispatch(None, "ask", "confirm")
    h.dispatch(Confirm, "no")
    assert h.top == Asker(answers=[True, False])


def test_choose_shows_one_button_per_option_and_answers_the_option() -> None:
    h = asked("choose")
    html = h.html
    for i, label in enumerate(["red", "green", "3"]):
        assert f"/event/test/p2/pick?p={i}" in html
        assert f">{label}</button>" in html
    h.dispatch(Choose, "pick", 2)
    assert h.top == Asker(answers=[3])


def test_choose_ignores_a_forged_or_stale_index() -> None:
    h = asked("choose")
    for forged in (7, -1, "0", None):
        h.dispatch(Choose, "pick", forged)
        assert h.conversation.top == "p2"
    assert h.top == Choose(label="Colour", options=["red", "green", 3])


def test_info_answers_none() -> None:
    h = asked("info")
    assert ">Saved.</p>" in h.html
    h.dispatch(Info, "ok")
    assert h.top == Asker(answers=[None])


def test_dialog_text_is_escaped() -> None:
    h = Harness(Info(message="<script>alert(1)</script>"))
    assert str(escape("<script>alert(1)</script>")) in h.html
    assert "<script>" not in h.html


def test_dialogs_show_a_back_button_only_when_there_is_history() -> None:
    alone = Harness(Confirm(question="first screen"))
    assert "history.back()" not in alone.html
    h = asked("confirm")
    assert "history.back()" in h.html
    assert ">Back</button>" in h.html


def test_back_from_a_dialog_returns_to_the_caller() -> None:
    h = asked("confirm")
    h.back()
    assert h.conversation.stack == ("p1",)
    assert h.top == Asker()


def test_a_dialog_works_in_a_slot() -> None:
    class Sidebar(Component):
        said: str = ""

        def render(self) -> Element:
            return div(self.root)[p[self.said], self.slot("panel") if not self.said else None]

        @event
        def ask(self) -> Effect:
            return call_in_slot("panel", prompt("Note?"), resume=self.noted)

        def noted(self, value: str) -> None:
            self.said = value

    h = Harness(Sidebar)
    step = h.dispatch(None, "ask")
    assert step.conversation.stack == ("p1",)
    h.dispatch(Prompt, "submit", signals={"value-p-2": "remember milk"})
    assert h.top == Sidebar(said="remember milk")


@flow
def greeting():
    if not (yield confirm("Start?")):
        return None
    name = yield prompt("Your name?")
    colour = yield choose("Colour", ["red", "blue"])
    yield info(f"Hello {name}, your colour is {colour}.")
    return f"{name}/{colour}"


def test_the_dialogs_in_a_flow_end_to_end() -> None:
    class Starter(Asker):
        @event
        def start_flow(self) -> Effect:
            return call(greeting(), resume=self.answered)

    h = Harness(Starter)
    h.dispatch(None, "start_flow")
    h.dispatch(Confirm, "yes")
    prompt_iid = h.conversation.stack[-1]
    h.dispatch(Prompt, "submit", signals={kebab_case(f"value-{prompt_iid}"): "Ada"})
    h.dispatch(Choose, "pick", 0)
    assert "Hello Ada, your colour is red." in h.html
    h.dispatch(Info, "ok")
    assert h.top == Starter(answers=["Ada/red"])
    assert h.conversation.stack == ("p1",)


def test_declining_the_flows_first_dialog_answers_none() -> None:
    h = Harness(greeting)
    step = h.dispatch(Confirm, "no")
    assert step.conversation.ended
