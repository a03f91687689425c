"""A problem found in a dataset, located by file and position (line, XML element, JSON path)."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Finding:
    """One data problem. kind: a key of CheckPolicy; file: where it is; position: line
    ("line 3"), XML element ("object 2, line 31") or JSON path ("annotations[5]"), or "";
    action: what was done ('fixed', 'skipped', 'kept', 'stopped'); count: how many
    problems it stands for (1; more for the "… N more" line that closes a long run of
    one kind in one file)."""

    kind: str
    file: Path | str
    position: str
    message: str
    action: str = ""
    count: int = 1

    def format(self) -> str:
        where = f"{self.file}:{self.position}" if self.position else f"{self.file}"
        action = f" [{self.action}]" if self.action else ""
        return f"{where}: {self.kind}: {self.message}{action}"


class DataError(ValueError):
    """A dataset that cannot be used; the message names the file and the fix."""
