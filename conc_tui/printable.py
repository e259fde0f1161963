"""Make text that comes from outside safe to show on a terminal.

File names, URLs, links found on a page, a server's error message and the reasons
built from them are chosen by whoever made the input, not by conc-tui. Printed raw,
a file named ``e\\x1b[2J\\x1b]0;PWNED\\x07`` clears the screen and renames the
terminal window; in the app the same bytes reach Textual's output. :func:`printable`
turns every character that is not printable (C0 and C1 controls, DEL, bidirectional
overrides, line and paragraph separators, unpaired surrogates) into a visible escape
such as ``\\x1b``, so the text stays one readable line and the terminal only ever
receives characters.

Use it at the point of output -- text reports, error lines, widgets -- never on the
data itself: keys, checksums and JSON keep the exact text (``json.dumps`` escapes
control characters by itself). Where the text goes into Rich markup (``notify``),
escape the markup as well: ``rich.markup.escape(printable(text))``.

This module imports nothing from Textual or Rich, so the engine and the CLI can use
it; the web crawler's links should go through it too.
"""

from __future__ import annotations

_SURROGATE_ESCAPES = range(0xDC80, 0xDD00)
"""Where ``surrogateescape`` puts the bytes of a file name that are not UTF-8."""


def _escape(ch: str) -> str:
    if ch == " " or ch.isprintable():
        return ch
    code = ord(ch)
    if code in _SURROGATE_ESCAPES:
        # The byte the file name really has, as ls -b would show it.
        return f"\\x{code - 0xDC00:02x}"
    return ascii(ch)[1:-1]


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped visibly, on one line.

    Printable characters (letters of any script, digits, punctuation, emoji, the
    space) are kept as they are; everything else becomes a Python-style escape:
    ``"\\x1b"``, ``"\\n"``, ``"\\u202e"``. A byte that is not UTF-8 in a file name
    (decoded by Python as a lone surrogate) shows as that byte, ``"\\xff"``.

    Args:
        text: Any text from outside: a path, a URL, a reason, a server message.

    Returns:
        Text that moves the cursor only forward and changes nothing else on a terminal.
    """
    if text.isprintable():
        return text
    return "".join(_escape(ch) for ch in text)
