"""Where a page loads Datastar from: by default, the verified bundle the package serves itself.

    App(Root)                            BASE/static/datastar.js, the bundle next to this module
    App(Root, datastar="cdn")            the pinned jsDelivr URL, with its SRI hash
    App(Root, datastar=PATH)             BASE/static/datastar.js, the file at PATH
    App(Root, datastar="https://…")      that URL, as is
    PARLOUR_DATASTAR_JS=PATH|URL|cdn     the same choices, when `datastar=` is not given

The package serves the bundle so that an app works with no internet and no configuration; the
bundle (third-party code, not committed) is put next to this module by `make setup`
(`scripts/fetch-datastar`, which checks its sha256). Without it the server says so when it
starts and pages show a notice that they could not go live
(docs/decisions/0002-datastar-bundle.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CDN",
    "DATASTAR_CDN",
    "DATASTAR_ENV",
    "DATASTAR_SRI",
    "DATASTAR_VERSION",
    "PACKAGED",
    "DatastarSource",
    "choose",
    "missing_message",
]

DATASTAR_VERSION = "1.0.4"
DATASTAR_CDN = (
    f"https://cdn.jsdelivr.net/gh/starfederation/datastar@v{DATASTAR_VERSION}/bundles/datastar.js"
)
DATASTAR_SRI = "sha384-twbOvafhSBQ0rJDNPzJdUw6DRvthVgAVfSIG1BQVmCiNO7Qh2zeVn7T5qstgjJ9q"
"""sha384 of the pristine v1.0.4 bundle (the bytes `scripts/fetch-datastar` verifies)."""

DATASTAR_ENV = "PARLOUR_DATASTAR_JS"
CDN = "cdn"
"""The `datastar=` value (or `PARLOUR_DATASTAR_JS` value) that opts into the CDN."""

PACKAGED = Path(__file__).parent / "static" / "datastar.js"
"""Where `scripts/fetch-datastar` puts the verified bundle, and where the package finds it."""


@dataclass(frozen=True, slots=True)
class DatastarSource:
    """Where the shell loads Datastar from.

    `file` set: the app serves that file at `BASE/static/datastar.js` (`url` is unused).
    Otherwise `url` is loaded as is, checked against `integrity` when there is one.
    """

    file: Path | None = None
    url: str = DATASTAR_CDN
    integrity: str | None = DATASTAR_SRI

    @property
    def available(self) -> bool:
        """False when the app should serve a bundle that is not there (`make setup` not run)."""
        return self.file is None or self.file.is_file()


def choose(datastar: str | Path | None) -> DatastarSource:
    """The source for `App(datastar=…)`, else `PARLOUR_DATASTAR_JS`, else the packaged bundle.

    A file that was named explicitly must exist (FileNotFoundError now, not a dead page
    later); the packaged bundle may be missing (the server warns when it starts).
    """
    from_env = datastar is None
    chosen = (os.environ.get(DATASTAR_ENV) or None) if from_env else datastar
    if chosen is None:
        return DatastarSource(file=PACKAGED)
    text = str(chosen)
    if text == CDN:
        return DatastarSource()
    if text.startswith(("http://", "https://")):
        return DatastarSource(url=text, integrity=None)
    path = Path(text)
    if not path.is_file():
        named = f"{DATASTAR_ENV}={text!r}" if from_env else f"datastar={text!r}"
        raise FileNotFoundError(
            f"the Datastar bundle {path} does not exist ({named}). Run `make setup` (or "
            f"scripts/fetch-datastar) to fetch the verified bundle the package serves by "
            f"default and leave {DATASTAR_ENV} unset, or load it from the CDN with "
            f"datastar={CDN!r}."
        )
    return DatastarSource(file=path)


def missing_message(source: DatastarSource) -> str:
    """What the server says at start when the bundle it should serve is not there."""
    return (
        f"parlour: no Datastar bundle at {source.file}: pages will load but cannot go live "
        "(they show a notice). Run `make setup` (or scripts/fetch-datastar) to fetch it, or "
        f"load it from the CDN with App(datastar={CDN!r}) or {DATASTAR_ENV}={CDN}."
    )
