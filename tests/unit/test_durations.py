import pytest

from callpulse.core.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20s", 20),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86400),
        ("250ms", 0.25),
        ("30", 30),
        (15, 15),
        (2.5, 2.5),
        ("1.5h", 5400),
    ],
)
def test_parse(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5 minutes", "-3s", -1, True, None, "1w", [1]])
def test_parse_rejects(bad: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"), [(60, "1m"), (90, "90s"), (900, "15m"), (3600, "1h"), (0.25, "250ms")]
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
