"""parlour's counter for peer-bench: `examples/counter.py` from this repository, unchanged.

Served by `parlour run app:app --store memory` (see framework.json). The kit's `datastar`
load client drives parlour's real routes, with nothing added for the benchmark:

    GET  /                                 shell: mints a conversation, sets the session cookie
    GET  /_parlour/sse/CID                 the conversation's stream (first event: full render)
    POST /_parlour/event/CID/p1/inc        one click (204); the patch arrives on the stream

The client finds CID in the shell with `user_id.regex` (the increment URL in the page) and
substitutes it for `{user}`; `p1` is the id of a fresh conversation's root instance, and the
regex only matches when the page's increment URL really is `/p1/inc`. The session cookie is
sent back by the client. The patch is `<span class="count">N</span>` (see `patch_regex`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import parlour


def _repo() -> Path:
    """This repository: $PARLOUR_REPO, else where the editable install of parlour points."""
    env = os.environ.get("PARLOUR_REPO")
    return Path(env) if env else Path(parlour.__file__).resolve().parents[2]


sys.path.insert(0, str(_repo()))

from examples.counter import app  # noqa: E402

__all__ = ["app"]
