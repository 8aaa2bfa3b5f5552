"""Text from input, made safe to print on a terminal.

Names in events, a platform's own fields, keys and values of a config file: whoever wrote
them can put an escape sequence in them that clears the screen, moves the cursor, recolours
what follows or, with a bidi override, shows the line's end first. Whatever a command prints
from input goes through :func:`plain` first.
"""

from __future__ import annotations


def plain(text: str, *, newlines: bool = False) -> str:
    """``text`` with every unprintable character written as its Python escape (``\\x1b``,
    ``\\x9b``, ``\\u202e``): C0 and C1 controls, DEL, bidi and other format characters,
    separators other than the space, lone surrogates.

    ``newlines``: keep line breaks, for a message of several lines that we composed (the
    parts that came from input are escaped whole before they are put into it).
    """
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or (newlines and c == "\n") else repr(c)[1:-1] for c in text
    )
