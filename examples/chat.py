"""One shared chat room: every open tab shows every message.

    parlour run examples.chat:app
    parlour run examples.chat:app --bus nats://127.0.0.1:4222 --port 8001   # a second process

Each tab's conversation subscribes to the topic `chat.message`; sending publishes on it. With
a NATS bus, tabs served by different processes share the room.
"""

from typing import Any, ClassVar

from htpy import Element, button, div, form, input, li, span, ul

from parlour import App, Component, event, patch_signals, publish, subscribe
from parlour.bus import Event


class Room(Component):
    draft: str = ""
    messages: list[str] = []

    keep: ClassVar[tuple[str, ...]] = ("draft",)

    def start(self) -> Any:
        return subscribe("chat.message", self.arrived)

    def render(self) -> Element:
        return div(self.root, class_="parlour-card chat")[
            ul(".messages")[(li(".message")[text] for text in self.messages)],
            form(".parlour-row", self.on("submit", "send"))[
                input(
                    ".parlour-input",
                    self.bind_local("draft"),
                    placeholder="Message",
                    autocomplete="off",
                ),
                button(".parlour-button.parlour-button--primary", type="submit")["Send"],
            ],
            span(".count")[f"{len(self.messages)} messages"],
        ]

    @event
    def send(self) -> Any:
        text = self.draft.strip()
        self.draft = ""
        if not text:
            return None
        return [publish("chat.message", text), patch_signals({self.local("draft"): ""})]

    def arrived(self, event: Event) -> None:
        self.messages = [*self.messages, str(event.payload)][-100:]


app = App(Room, title="parlour chat")
