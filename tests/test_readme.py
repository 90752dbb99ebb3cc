"""The README's examples are code: they must stay true (same source, runnable, same output)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
QK = [sys.executable, "-c", "from quantkit.cli.main import main; main()"]


def _fenced() -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    out, lang, body = [], None, []
    for line in README.splitlines(keepends=True):
        if line.startswith("```"):
            if lang is None:
                lang, body = line[3:].strip(), []
            else:
                out.append((lang, "".join(body)))
                lang = None
        elif lang is not None:
            body.append(line)
    return out


def _blocks(lang: str) -> list[str]:
    return [body for la, body in _fenced() if la == lang]


def test_strategy_example_is_the_research_file() -> None:
    research = (ROOT / "research" / "my_strategy.py").read_text()
    assert research in _blocks("python"), "README 'Writing a strategy' differs from research/"


def test_setup_commands_are_the_two_documented() -> None:
    setup = _blocks("bash")[0].strip().splitlines()
    assert setup == ["pip install -e . && quantkit backtest", 'pip install -e ".[test]" && pytest']


def test_python_example_runs() -> None:
    example = next(b for b in _blocks("python") if "qk.backtest(" in b and "MyStrategy" not in b)
    scope: dict[str, object] = {}
    cwd = Path.cwd()
    try:
        import os

        os.chdir(ROOT)
        exec(example, scope)
    finally:
        os.chdir(cwd)
    res = scope["res"]
    assert res.summary.height == 1  # type: ignore[attr-defined]
    assert res.strategies[0]["instruments"] == ["BTC-PERPETUAL"]  # type: ignore[attr-defined]


def test_run_toml_example_parses() -> None:
    import tomllib

    from quantkit.config import parse_run_config

    cfg = parse_run_config(tomllib.loads(_blocks("toml")[0]))
    assert cfg.strategies[0].params == {"span": 50, "threshold": 0.001}


@pytest.mark.parametrize(
    "spec", ["research/my_strategy.py:MyStrategy", "research.my_strategy:MyStrategy"]
)
def test_example_strategy_loads_from_the_cli(spec: str) -> None:
    out = subprocess.run(
        [
            *QK,
            "backtest",
            "--strategy",
            spec,
            "--param",
            "dip=0.001",
            "--instrument",
            "BTC-PERPETUAL",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    import json

    doc = json.loads(out.stdout)
    (s,) = doc["strategies"]
    assert s["name"] == "my_strategy" and s["params"]["dip"] == 0.001
    assert s["orders"] > 0 and s["fills"] > 0


def test_seed_output_in_readme_is_current() -> None:
    out = subprocess.run([*QK, "backtest"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    shown = next(b for b in _blocks("") if b.startswith("strategy "))

    # every line but the timing line is deterministic
    def stable(text: str) -> list[str]:
        return [ln for ln in text.strip().splitlines() if " events in " not in ln]

    assert stable(out.stdout) == stable(shown)
