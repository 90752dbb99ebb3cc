"""numba's cache of the package's kernels is cleared when any source of the package changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from quantkit.jitcache import STAMP, clear_stale_caches, numba_subpath


@pytest.fixture(autouse=True)
def _no_numba_cache_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' own NUMBA_CACHE_DIR is not touched (one test sets its own)."""
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)


def _package(root: Path) -> tuple[Path, Path]:
    """A package with a kernel module, a helper module and cache files of the kernel."""
    (root / "engine" / "__pycache__").mkdir(parents=True)
    (root / "engine" / "matching.py").write_text("def match(): ...\n")
    helper = root / "engine" / "accounting.py"
    helper.write_text("def apply_fill(): ...\n")
    return helper, root / "engine" / "__pycache__"


def _cache_files(cache: Path) -> list[Path]:
    files = [cache / "matching.match-10.py311.nbi", cache / "matching.match-10.py311.1.nbc"]
    for f in files:
        f.write_bytes(b"machine code")
    return files


def test_caches_survive_while_the_sources_do_not_change(tmp_path: Path) -> None:
    _, cache = _package(tmp_path)
    clear_stale_caches(tmp_path)  # first run: writes the stamp
    files = _cache_files(cache)
    assert clear_stale_caches(tmp_path) == 0
    assert all(f.exists() for f in files)
    assert (tmp_path / "__pycache__" / STAMP).exists()


def test_editing_a_helper_clears_every_cached_kernel(tmp_path: Path) -> None:
    helper, cache = _package(tmp_path)
    clear_stale_caches(tmp_path)
    files = _cache_files(cache)
    helper.write_text("def apply_fill(): return 1\n")  # another size: a kernel inlining it
    assert clear_stale_caches(tmp_path) == 2
    assert not any(f.exists() for f in files)
    files = _cache_files(cache)  # rebuilt by the next run: kept from now on
    assert clear_stale_caches(tmp_path) == 0 and all(f.exists() for f in files)


def test_a_touch_with_the_same_size_clears_too(tmp_path: Path) -> None:
    helper, cache = _package(tmp_path)
    clear_stale_caches(tmp_path)
    files = _cache_files(cache)
    st = helper.stat()
    os.utime(helper, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert clear_stale_caches(tmp_path) == 2 and not any(f.exists() for f in files)


def test_caches_without_a_stamp_are_cleared(tmp_path: Path) -> None:
    """Caches written before the stamp existed cannot be trusted."""
    _, cache = _package(tmp_path)
    files = _cache_files(cache)
    assert clear_stale_caches(tmp_path) == 2 and not any(f.exists() for f in files)


def test_with_numba_cache_dir_its_caches_of_the_package_are_cleared_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from numba.core.caching import _CacheLocator

    package, numba_dir = tmp_path / "pkg", tmp_path / "numba"
    helper, _ = _package(package)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(numba_dir))
    sub = _CacheLocator.get_suitable_cache_subpath(str(package / "engine" / "matching.py"))
    assert numba_subpath(package / "engine") == sub  # where numba puts them
    clear_stale_caches(package)
    cache = numba_dir / sub
    cache.mkdir(parents=True)
    files = _cache_files(cache)
    (numba_dir / "someone_else").mkdir()
    other = _cache_files(numba_dir / "someone_else")  # another package's: never touched
    assert clear_stale_caches(package) == 0 and all(f.exists() for f in files)
    helper.write_text("def apply_fill(): return 1\n")
    assert clear_stale_caches(package) == 2
    assert not any(f.exists() for f in files) and all(f.exists() for f in other)
    assert clear_stale_caches(package) == 0
