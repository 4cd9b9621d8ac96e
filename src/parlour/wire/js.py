"""JavaScript literals: Python values written as JavaScript source that is safe in HTML.

    js_literal(value)   the JSON text of `value`, with `<`, `>` and `&` escaped

JSON is valid JavaScript, and `json.dumps` (ASCII output) escapes every non-ASCII character,
so U+2028 and U+2029 cannot end a statement early. Escaping `<`, `>` and `&` as `\\u003c`,
`\\u003e` and `\\u0026` as well means `</script>` in a value cannot close a `<script>`
element and no `&...;` entity can be decoded out of a value. Inside an HTML attribute the
whole expression must still be escaped for the attribute (`markupsafe.escape`): the literal's
double quotes would otherwise end a double-quoted attribute.

This is the only place parlour escapes a value for JavaScript; everything that writes a
script or a Datastar expression (the SSE encoder, the history scripts, the page shell) uses it.
"""

from __future__ import annotations

import json
import re

__all__ = ["js_literal"]


def js_literal(value: object) -> str:
    """`value` as a JavaScript literal that is safe inside an HTML `<script>` element.

    `value` must be JSON-serialisable (str, int, float, bool, None, lists, dicts with str
    keys); anything else raises TypeError from `json.dumps`.
    """
    if type(value) is str and _PLAIN.fullmatch(value):
        return f'"{value}"'  # what the general way gives for a string with nothing to escape
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_PLAIN = re.compile(r"[\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\x5b\x5d-\x7e]*")
"""Printable ASCII but `"`, `\\`, `<`, `>` and `&`: a string of these (a page URL, usually) is
its own JSON text between quotes, and holds nothing to escape for HTML."""
