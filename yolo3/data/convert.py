"""Dataset conversion (read one format, write another) and check-data's entry point."""

from __future__ import annotations

from pathlib import Path

from yolo3.data.findings import DataError
from yolo3.data.formats import detect_format, load_dataset, save_dataset
from yolo3.data.validate import CheckPolicy, CheckReport, check_dataset


def convert_dataset(src: str | Path, out: str | Path, to: str, source_format: str | None = None,
                    images: str = "copy", class_names: list[str] | None = None) -> tuple[Path, list[str]]:
    """Converts a dataset to `to` ('yolo' | 'coco' | 'voc') under `out`.

    source_format, when given, must match what `src` is. Returns (the path to load the
    result from, notes about information the target format cannot hold).
    """
    found = detect_format(src)
    if source_format and source_format != found:
        raise DataError(f"{src}: looks like a {found} dataset, not {source_format}; fix --from")
    index = load_dataset(src, class_names)
    if index.findings:
        raise DataError(f"{src}: {len(index.findings)} annotation problem(s), e.g. {index.findings[0].format()}; "
                        "run `yolo3 check-data` and fix them first, so the conversion loses nothing")
    notes = []
    flagged = sum(int(s.difficult.sum() + s.truncated.sum()) for s in index.all_samples())
    if to == "yolo" and flagged:
        notes.append(f"YOLO labels have no difficult/truncated field: {flagged} flags are not written")
    return save_dataset(index, out, to, images), notes


def check_data(path: str | Path, policy: CheckPolicy | None = None) -> CheckReport:
    """Loads and checks a dataset (see validate.check_dataset)."""
    return check_dataset(load_dataset(path), policy)
