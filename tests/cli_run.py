"""Run the quantkit CLI in-process, as the tests of its commands do.

Usage: ``code, out, err = run_main(["data", "inspect", path], capsys)``
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from quantkit.cli.main import main


def run_main(
    args: Sequence[str | Path], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """``quantkit ARGS...``: (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
