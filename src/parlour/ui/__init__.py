"""Stock components: dialogs every app needs, styled by the stock stylesheet.

    name = yield prompt("Your name?")          a text input and OK (Enter submits)
    ok = yield confirm("Delete it?")           Yes / No, answers True / False
    plan = yield choose("Plan", ["a", "b"])    one button per option, answers the option
    yield info("Saved.")                       a message and OK
    return toast("Saved.", "success")          a notice over the page that leaves by itself
    file_input(self.received)                  in a render: files for an `@upload` handler

Each is an ordinary component (usable with `call`, `call_in_slot` or in a flow) and shows a
Back button when the conversation has history. The stylesheet is served at
`/_parlour/static/parlour.css` and linked by the shell.
"""

from parlour.ui.dialogs import Choose as Choose
from parlour.ui.dialogs import Confirm as Confirm
from parlour.ui.dialogs import Info as Info
from parlour.ui.dialogs import Prompt as Prompt
from parlour.ui.dialogs import choose as choose
from parlour.ui.dialogs import confirm as confirm
from parlour.ui.dialogs import info as info
from parlour.ui.dialogs import prompt as prompt
from parlour.ui.toast import toast as toast
from parlour.ui.upload import file_input as file_input

__all__ = [
    "Choose",
    "Confirm",
    "Info",
    "Prompt",
    "choose",
    "confirm",
    "file_input",
    "info",
    "prompt",
    "toast",
]
