"""Where each box of a Sample came from (label line, XML element, JSON path), for messages.

Sample (owned by the foundation) has no field for it, so readers attach a list of
position strings as an attribute; `box_positions` returns it (or "box i" defaults).
"""

from __future__ import annotations

from yolo3.data.sample import Sample

_ATTR = "box_positions"


def set_box_positions(sample: Sample, positions: list[str]) -> None:
    """Attaches one position string per box (len == len(sample))."""
    if len(positions) != len(sample):
        raise ValueError(f"{len(positions)} positions for {len(sample)} boxes")
    setattr(sample, _ATTR, list(positions))


def box_positions(sample: Sample) -> list[str]:
    """The position string of every box of the sample."""
    positions = getattr(sample, _ATTR, None)
    if positions is None or len(positions) != len(sample):
        return [f"box {i}" for i in range(len(sample))]
    return positions
