"""Resolving a file, a directory tree (hive partitions) or a glob to sorted Parquet files."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantkit.data.paths import resolve_paths
from quantkit.errors import DataError


def _touch(root: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        paths.append(path)
    return paths


def test_single_file(tmp_path: Path) -> None:
    (f,) = _touch(tmp_path, "a.parquet")
    assert resolve_paths(f) == (f,)
    assert resolve_paths(str(f)) == (f,)


def test_directory_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    files = _touch(
        tmp_path,
        "date=2024-01-02/part-0.parquet",
        "date=2024-01-01/part-1.parquet",
        "date=2024-01-01/part-0.parquet",
        "top.parquet",
    )
    _touch(tmp_path, ".hidden.parquet", "_tmp/x.parquet", "notes.txt", "date=2024-01-01/_SUCCESS")
    assert resolve_paths(tmp_path) == tuple(sorted(files))


def test_glob(tmp_path: Path) -> None:
    b, a, _ = _touch(tmp_path, "b.parquet", "a.parquet", "c.csv")
    assert resolve_paths(str(tmp_path / "*.parquet")) == (a, b)
    (nested,) = _touch(tmp_path, "d/x.parquet")
    assert resolve_paths(str(tmp_path / "**" / "*.parquet")) == (a, b, nested)


def test_missing_file_suggests_close_names(tmp_path: Path) -> None:
    _touch(tmp_path, "ticks.parquet")
    with pytest.raises(DataError, match=r"no such file.*did you mean.*ticks\.parquet"):
        resolve_paths(tmp_path / "tiks.parquet")


def test_missing_parent_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist either"):
        resolve_paths(tmp_path / "nope" / "ticks.parquet")


def test_glob_without_match(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="matched no files"):
        resolve_paths(str(tmp_path / "*.parquet"))


def test_directory_without_parquet_lists_what_is_there(tmp_path: Path) -> None:
    _touch(tmp_path, "ticks.csv")
    with pytest.raises(DataError, match=r"no \.parquet files.*ticks\.csv"):
        resolve_paths(tmp_path)
