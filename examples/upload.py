"""Uploads: choose up to 3 files of at most 10 MB; each is listed with its exact size.

parlour run examples.upload:app

While the bytes travel, each file has a progress bar and the upload a Cancel button. A file
over the limit is refused whole ("too large (limit 10 MB)"), and nothing of that upload is
listed. The files stay on the server's disk (STATE_DIR/uploads) until the conversation ends.
"""

from htpy import Element, div, li, p, ul

from parlour import MB, App, Component, Upload, UploadRefused, upload
from parlour.ui import file_input


class Uploader(Component):
    received: list[str] = []
    problem: str = ""

    def render(self) -> Element:
        return div(self.root, class_="parlour-card")[
            file_input(self.chosen, label="Choose files"),
            p(".parlour-error", role="alert")[self.problem] if self.problem else None,
            ul(".uploaded")[(li[line] for line in self.received)],
        ]

    @upload(max_size=10 * MB, max_files=3)
    def chosen(self, files: list[Upload]) -> None:
        self.problem = ""
        self.received = [f"{f.name} — {f.size} bytes" for f in files]

    def on_error_chosen(self, error: UploadRefused) -> None:
        self.problem = str(error)


app = App(Uploader, title="parlour upload")
