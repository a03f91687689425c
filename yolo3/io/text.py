"""Text files as editors see them: line breaks are \\r\\n, \\r or \\n only.

`str.splitlines` also breaks on \\x85, \\u2028, form feeds and other characters, which
would make the line numbers in our error messages disagree with the user's editor.
"""

from __future__ import annotations

import re

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines of `text`, numbered as an editor numbers them (a final break adds no line)."""
    lines = LINE_BREAK.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines
