"""Resolve a user path (file, directory tree or glob) to the sorted Parquet files it names.

Usage::

    from quantkit.data.paths import resolve_paths
    resolve_paths("ticks/")  # (PosixPath('ticks/date=2024-01-01/part-0.parquet'), ...)
"""

from __future__ import annotations

import difflib
import glob
import os
from pathlib import Path

from quantkit.errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")
_GLOB_CHARS = frozenset("*?[")


def resolve_paths(path: str | os.PathLike[str]) -> tuple[Path, ...]:
    """Return the Parquet files named by ``path``, sorted; raise DataError when there are none.

    A directory is searched recursively (hive partitions such as ``date=2024-01-01/`` are fine;
    names starting with ``.`` or ``_`` are skipped). Usage: ``resolve_paths("data/*.parquet")``.
    """
    text = os.fspath(path)
    candidate = Path(text).expanduser()
    if candidate.is_file():
        return (candidate,)
    if candidate.is_dir():
        return _files_in_dir(candidate)
    if _GLOB_CHARS & set(text):
        return _files_from_glob(text)
    raise DataError(_missing_message(candidate))


def _is_visible(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return not any(part.startswith((".", "_")) for part in parts)


def _files_in_dir(root: Path) -> tuple[Path, ...]:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix in PARQUET_SUFFIXES and p.is_file() and _is_visible(p, root)
    )
    if files:
        return tuple(files)
    sample = sorted(p.name for p in root.iterdir())[:5]
    shown = f"; it holds {', '.join(sample)}{', ...' if len(sample) == 5 else ''}" if sample else ""
    raise DataError(
        f"{root}: directory has no .parquet files (searched recursively){shown}. "
        "Point to a Parquet file, a directory of them or a glob like 'ticks/*.parquet'"
    )


def _files_from_glob(pattern: str) -> tuple[Path, ...]:
    matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
    files: list[Path] = []
    for match in map(Path, matches):
        files.extend(_files_in_dir(match) if match.is_dir() else [match])
    if not files:
        raise DataError(
            f"glob {pattern!r} matched no files; check the pattern (use '**' to search "
            "sub-directories, e.g. 'ticks/**/*.parquet')"
        )
    return tuple(sorted(set(files)))


def _missing_message(path: Path) -> str:
    parent = path.parent
    if not parent.is_dir():
        return f"{path}: no such file or directory (directory {parent} does not exist either)"
    names = [p.name for p in parent.iterdir()]
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.7)
    hint = f"; did you mean {', '.join(repr(str(parent / c)) for c in close)}?" if close else ""
    return f"{path}: no such file or directory{hint}"
