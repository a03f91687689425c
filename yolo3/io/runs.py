"""Output folders that never overwrite: `runs/train`, `runs/train2`, … (one rule for
train, val and detect).

`next_run_dir` claims the folder by creating it (`mkdir` without exist_ok), so two
runs started at the same moment get different folders instead of sharing one.
"""

from __future__ import annotations

from pathlib import Path


def file_in_the_way(path: Path, itself: bool = True) -> Path | None:
    """The nearest of `path` (when `itself`) and its parents that exists but is not a folder:
    a file where an output folder must be made (None when there is none)."""
    return next((p for p in ((path,) if itself else ()) + tuple(path.parents) if p.exists() and not p.is_dir()), None)


def next_run_dir(project: str | Path, name: str, exist_ok: bool = False) -> Path:
    """Creates and returns `project/name`, or `name2`, `name3`, … — the first that does
    not exist yet. With exist_ok, `project/name` itself (created if missing)."""
    base = Path(project)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where a folder of the path should be
        blocking = file_in_the_way(base) or base
        raise NotADirectoryError(f"cannot make the output folder {base / name}: {blocking} is a file, not a folder; "
                                 "choose another output folder") from None
    except OSError as err:  # /proc, a name too long, no permission, a read-only file system
        raise _cannot_make(base / name, err) from err
    try:
        if exist_ok:
            (base / name).mkdir(exist_ok=True)
            return base / name
        n = 1
        while True:
            path = base / (name if n == 1 else f"{name}{n}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                n += 1
    except OSError as err:
        raise _cannot_make(base / name, err) from err


def _cannot_make(path: Path, err: OSError) -> OSError:
    """The one-line error for an output folder the system refuses, naming it and the fix."""
    return OSError(f"cannot make the output folder {path}: {err.strerror or err} ({err.filename}); "
                   "choose another output folder")


def numbered_out(out: str | Path) -> Path:
    """`next_run_dir` for a folder given as one path (`runs/detect` → runs/detect2 …)."""
    path = Path(out)
    return next_run_dir(path.parent, path.name)


def release_if_empty(path: Path | None) -> None:
    """Removes a folder claimed by `next_run_dir` when the run failed before writing into it,
    so a refused command leaves no empty numbered folder behind."""
    if path is not None:
        try:
            path.rmdir()  # only ever removes an empty folder
        except OSError:
            pass
