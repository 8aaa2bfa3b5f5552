"""What a command prints from its input is escaped: none of it can clear the screen,
recolour the terminal or turn a line around."""

from __future__ import annotations


def test_plain_writes_every_unprintable_character_as_its_escape() -> None:
    from callpulse.text import plain

    assert plain("billing") == "billing"
    assert plain("Zürich 東京 🙂 a\\b") == "Zürich 東京 🙂 a\\b"
    assert plain("\x1b[2J\x07\x00\x7f") == r"\x1b[2J\x07\x00\x7f"
    assert (
        plain("\x9b\x85\u202e\u2066\u200b\ufeff\u2028") == r"\x9b\x85\u202e\u2066\u200b\ufeff\u2028"
    )
    assert plain("\udc80") == r"\udc80"  # a lone surrogate, which print() cannot even encode
    assert plain("one\ntwo\r") == r"one\ntwo\r"
    assert plain("one\ntwo\r", newlines=True) == "one\ntwo\\r"
