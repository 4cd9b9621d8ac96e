"""A todo list: a form, and one keyed child per item.

parlour run examples.todo:app

The list owns the items. Each item is a keyed child (`set_keyed_children`): when one item
changes only its row is re-rendered, and rows keep their place in the page. A row's checkbox
and remove button are routed to the list's own `@event` methods through `self.parent`.
"""

from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import quote

from htpy import Element, button, div, form, h1, input, label, p, span

from parlour import App, Component, event, patch_signals, set_keyed_children

# The stock stylesheet has cards, inputs and buttons; the rows need a little layout of their own.
CSS = """
.todo-title { margin: 0; font-size: 1.4rem; }
.todo-form { display: flex; gap: .5rem; }
.todo-form .parlour-input { flex: 1; min-width: 0; }
.todo-item { display: flex; align-items: center; gap: .5rem; padding: .3rem 0;
             border-bottom: 1px solid var(--parlour-border); }
.todo-label { flex: 1; display: flex; align-items: center; gap: .6rem; cursor: pointer;
              overflow-wrap: anywhere; }
.todo-item--done .todo-text { text-decoration: line-through; color: var(--parlour-muted); }
.todo-remove { padding: .1rem .6rem; line-height: 1.4; }
.todo-left { margin: 0; color: var(--parlour-muted); font-size: .9rem; }
"""


@dataclass
class Todo:
    key: str
    text: str
    done: bool = False


class TodoItem(Component):
    """One row. Its clicks go to the list that owns the items."""

    key: str = ""
    text: str = ""
    done: bool = False

    def render(self) -> Element:
        return div(self.root, class_="todo-item" + (" todo-item--done" if self.done else ""))[
            label(".todo-label")[
                input(
                    self.on("change", self.parent.toggle, payload=self.key),
                    type="checkbox",
                    checked=self.done,
                ),
                span(".todo-text")[self.text],  # htpy escapes user text
            ],
            button(
                ".parlour-button.todo-remove",
                self.on("click", self.parent.remove, payload=self.key),
                type="button",
                title="Remove",
                aria_label=f"Remove {self.text}",
            )["\N{MULTIPLICATION SIGN}"],
        ]


class TodoList(Component):
    items: list[Todo] = []
    draft: str = ""
    next_key: int = 1

    keep: ClassVar[tuple[str, ...]] = ("draft",)  # the input's text arrives with each event

    def render(self) -> Element:
        left = sum(not t.done for t in self.items)
        return div(self.root, class_="parlour-card parlour-dialog todo")[
            h1(".todo-title")["Todo"],
            form(self.on("submit", "add"), class_="todo-form")[
                input(
                    ".parlour-input",
                    self.bind_local("draft"),
                    type="text",
                    value=self.draft,
                    placeholder="What needs doing?",
                    autocomplete="off",
                    autofocus=True,
                ),
                button(".parlour-button.parlour-button--primary", type="submit")["Add"],
            ],
            self.keyed("items"),
            p(".todo-left")[f"{left} left"],
        ]

    @event
    def add(self):
        text = self.draft.strip()
        if not text:
            return None
        self.items.append(Todo(f"t{self.next_key}", text))
        self.next_key += 1
        self.draft = ""
        return [self._rows(), patch_signals({self.local("draft"): ""})]

    @event
    def toggle(self, key: str):
        for todo in self.items:
            if todo.key == key:
                todo.done = not todo.done
        return self._rows()

    @event
    def remove(self, key: str):
        self.items = [t for t in self.items if t.key != key]
        return self._rows()

    def _rows(self):
        # rerender_parent: the "N left" line lives in the list, so it is redrawn too.
        return set_keyed_children(
            "items",
            [
                (
                    t.key,
                    TodoItem(key=t.key, text=t.text, done=t.done),
                )
                for t in self.items
            ],
            rerender_parent=True,
        )


app = App(TodoList, title="parlour todo", stylesheets=("data:text/css," + quote(CSS),))
