"""Text as users give it: lines as editors number them, and JSON typed on a command line
or sent in a request field.

Line breaks are \\r\\n, \\r or \\n only.

`str.splitlines` also breaks on \\x85, \\u2028, form feeds and other characters, which
would make the line numbers in our error messages disagree with the user's editor.
"""

from __future__ import annotations

import json
import re
from typing import Any

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines of `text`, numbered as an editor numbers them (a final break adds no line)."""
    lines = LINE_BREAK.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def parse_json_text(text: str, what: str, example: str) -> Any:
    """json.loads for a value a user typed (an option or a form field): malformed or
    hostile input (e.g. 10⁵ nested brackets, which makes json raise RecursionError) is a
    one-line ValueError naming `what` and showing `example`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what}: not valid JSON ({err.msg}); use {example}") from None
    except RecursionError:
        raise ValueError(f"{what}: JSON nested too deeply; use {example}") from None
