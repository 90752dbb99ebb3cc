"""numba's on-disk cache of this package's kernels, cleared when any source of the package changed.

numba's ``cache=True`` checks only the source file of the function it compiled. quantkit's kernels
inline helpers from other files (``inline="always"``), link the machine code of the jitted
functions they call, and freeze module constants (``layout.MAX_OUT``) into the code. So after an
edit or a ``git pull`` that touches only a helper's file, numba would load a kernel built from
the old helper. At import, quantkit compares the size and mtime of every ``.py`` file of the
package with a stamp kept next to the caches and, when anything changed, deletes the package's
numba cache files (``__pycache__/*.nbi``, ``*.nbc``), and those numba keeps for the package
under ``NUMBA_CACHE_DIR`` when it is set (one directory per source directory, named as numba
names them; their stamp is kept there too). That only ever happens to developers: a release
installs every file anew. Strategy drivers are cached elsewhere, under a name that hashes their
sources (``quantkit.engine.codegen``).

Usage: ``clear_stale_caches(Path(quantkit.__file__).parent)`` (done by ``import quantkit``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

STAMP = "numba-sources.stamp"


def sources_stamp(root: Path) -> str:
    """A digest of the path, size and mtime of every ``.py`` file under ``root``."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def clear_stale_caches(root: Path) -> int:
    """Delete the numba cache files of the package at ``root`` when its sources changed since
    the last call (or no stamp exists yet); returns how many were deleted. A read-only install
    is left as it is (numba then caches elsewhere)."""
    stamp = sources_stamp(root)
    removed = _clear_if_stale(root / "__pycache__" / STAMP, stamp, root.rglob("__pycache__"))
    user = os.environ.get("NUMBA_CACHE_DIR")
    if user:
        base = Path(user)
        sources = sorted({p.parent for p in root.rglob("*.py")})
        package = hashlib.sha1(os.path.abspath(root).encode()).hexdigest()[:16]
        stamp_file = base / f"quantkit-{package}.{STAMP}"
        removed += _clear_if_stale(stamp_file, stamp, [base / numba_subpath(d) for d in sources])
    return removed


def numba_subpath(directory: Path) -> str:
    """The directory numba uses under ``NUMBA_CACHE_DIR`` for the modules in ``directory``
    (``numba.core.caching._CacheLocator.get_suitable_cache_subpath``: the absolute path as
    given, symlinks and all, hashed)."""
    path = os.path.abspath(directory)
    return f"{os.path.basename(path)}_{hashlib.sha1(path.encode()).hexdigest()}"


def _clear_if_stale(stamp_file: Path, stamp: str, directories: Iterable[Path]) -> int:
    """Delete ``*.nbi``/``*.nbc`` in ``directories`` unless ``stamp_file`` holds ``stamp``, then
    write it; how many files were deleted."""
    try:
        if stamp_file.read_text() == stamp:
            return 0
    except OSError:
        pass
    removed = 0
    try:
        for directory in directories:
            for pattern in ("*.nbi", "*.nbc"):
                for path in directory.glob(pattern):
                    path.unlink(missing_ok=True)
                    removed += 1
        stamp_file.parent.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(stamp)
    except OSError:
        pass
    return removed
