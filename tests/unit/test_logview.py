import json

from chaoslab.escape import printable
from chaoslab.logview import pretty


def line(**fields) -> str:
    return json.dumps({"ts": "2026-01-01T12:00:01.123+00:00", "level": "INFO", "msg": "hello", **fields})


def test_a_json_line_is_one_readable_line():
    assert pretty(line(trace_id="ab" * 16, **{"http.status": 200})) == (
        "12:00:01.123 INFO    hello  http.status=200 trace=" + "ab" * 16
    )


def test_nothing_from_data_can_add_a_line_or_drive_the_terminal():
    hostile = pretty(line(msg="GET /x\n12:00:00.000 INFO    forged", path="\x1b[2J\r", note="\u202eevil"))
    assert "\n" not in hostile and "\r" not in hostile and "\x1b" not in hostile and "\u202e" not in hostile
    assert "GET /x\\n12:00:00.000" in hostile and "\\x1b[2J\\r" in hostile and "\\u202eevil" in hostile
    assert pretty("raw output\x1b[31m") == "raw output\\x1b[31m"


def test_a_traceback_keeps_its_lines_each_indented():
    shown = pretty(line(exc="Traceback (most recent call last):\n  File 'x'\nValueError: bad\n12:00:00 INFO forged"))
    assert shown.splitlines()[1:] == [
        "    Traceback (most recent call last):",
        "      File 'x'",
        "    ValueError: bad",
        "    12:00:00 INFO forged",
    ]


def test_printable_is_unambiguous():
    assert printable("a\\nb") != printable("a\nb")
    assert printable("plain text, é ü") == "plain text, é ü"
