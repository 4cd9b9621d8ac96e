"""A private copy of an example module, for a test that drives its app and then closes it.

Closing an `App` is for good (`App.close`), and `examples.counter.app` is one object that
every test importing it shares. Reloading the module after closing its app (what these tests
did) still left a closed app with whoever had imported it first, so a browser test of the
counter failed whenever the fuzz test had run before it. A copy of the module's own, run from
its file under a name nobody imports, keeps the shared modules' apps untouched whatever order
the tests run in.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_copies = itertools.count(1)


def private_example(name: str) -> ModuleType:
    """`examples/NAME.py` run afresh as a module of its own (not in `sys.modules`)."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"private_examples_{next(_copies)}_{name}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no example module at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
