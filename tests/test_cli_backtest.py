"""``quantkit backtest``: the --json document, --out files, --param/--strategy pairing, run.toml,
and one-line ``error:`` messages (exit 2, no traceback) for every kind of bad input.

Most tests call ``quantkit.cli.main.main(argv)`` in-process (what the console script runs); two
run the real console script in a subprocess.

Usage: ``pytest tests/test_cli_backtest.py``
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from cli_run import run_main

import quantkit as qk
from quantkit.strategies.seed import seed_configs

Cli = Callable[..., tuple[int, str, str]]

STRATEGY_KEYS = {"name", "instruments", "params", "events", "orders", "fills", "realized_pnl",
                 "unrealized_pnl", "fees", "positions", "max_drawdown", "sharpe"}  # fmt: skip
TOTAL_KEYS = {"orders", "fills", "realized_pnl", "unrealized_pnl", "fees"}
TOP_KEYS = {"strategies", "total", "events", "elapsed_s", "events_per_s"}
TIMING = ("elapsed_s", "events_per_s", "setup_s")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``quantkit ARGS...`` in-process; returns (exit code, stdout, stderr)."""

    return lambda *args: run_main(args, capsys)


def without_timing(doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON document minus the wall-clock fields."""
    return {k: v for k, v in doc.items() if k not in TIMING}


def assert_user_error(code: int, out: str, err: str, *needles: str) -> None:
    """Exit 2, nothing on stdout, one ``error: ...`` line on stderr that mentions ``needles``."""
    assert code == 2, (out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


# --------------------------------------------------------------------------- --json


def test_json_document_shape(cli: Cli, bundled_sample: Path) -> None:
    code, out, err = cli("backtest", "--data", bundled_sample, "--instrument", "ETH-PERPETUAL",
                         "--strategy", "momentum", "--param", "span=20", "--json")  # fmt: skip
    assert (code, err) == (0, "")
    assert len(out.strip().splitlines()) == 1  # exactly one JSON object on stdout
    doc = json.loads(out)
    assert TOP_KEYS <= set(doc) <= {*TOP_KEYS, "setup_s"}
    [s] = doc["strategies"]
    assert set(s) >= STRATEGY_KEYS
    assert s["name"] == "momentum"
    assert s["instruments"] == ["ETH-PERPETUAL"]
    assert s["params"] == {**qk.strategies.momentum.params, "span": 20}
    rows = qk.data.scan(bundled_sample).row_counts["ETH-PERPETUAL"]
    assert s["events"] == doc["events"] == rows
    assert s["orders"] > 0 and s["fills"] > 0
    for key in ("realized_pnl", "unrealized_pnl", "fees", "max_drawdown", "sharpe"):
        assert isinstance(s[key], float)
    assert s["max_drawdown"] >= 0.0
    assert set(s["positions"]) == {"ETH-PERPETUAL"}
    assert set(doc["total"]) == TOTAL_KEYS
    for key in TOTAL_KEYS:
        assert doc["total"][key] == pytest.approx(sum(x[key] for x in doc["strategies"]))
    replay_s = doc["elapsed_s"] - doc.get("setup_s", 0.0)  # kernel loading is not replay
    assert replay_s > 0
    assert doc["events_per_s"] == pytest.approx(doc["events"] / replay_s)
    # the same numbers as the Python API
    api = qk.backtest(bundled_sample, [qk.strategies.momentum(span=20)],
                      instruments=["ETH-PERPETUAL"]).to_dict()  # fmt: skip
    assert without_timing(doc) == without_timing(api)


def test_default_run_is_the_seed_run_on_the_bundled_sample(cli: Cli) -> None:
    code, out, _ = cli("backtest", "--json")
    assert code == 0
    doc = json.loads(out)
    expected = [(c.name, list(c.slots(()))) for c in seed_configs()]
    assert [(s["name"], s["instruments"]) for s in doc["strategies"]] == expected
    assert all(s["fills"] > 0 for s in doc["strategies"])


def test_out_writes_tables_and_summary(cli: Cli, bundled_sample: Path, tmp_path: Path) -> None:
    args = ("backtest", "--data", bundled_sample, "--instrument", "ETH-PERPETUAL",
            "--fee-bps-taker", "2")  # fmt: skip
    code, out, err = cli(*args, "--out", tmp_path / "run")
    assert (code, err) == (0, "")
    assert "wrote" in out and "momentum" in out
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert files == {"fills.parquet", "orders.parquet", "equity.parquet", "summary.json"}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    _, printed, _ = cli(*args, "--json")
    assert without_timing(summary) == without_timing(json.loads(printed))
    fills = pl.read_parquet(tmp_path / "run" / "fills.parquet")
    orders = pl.read_parquet(tmp_path / "run" / "orders.parquet")
    assert fills.height == summary["total"]["fills"] > 0
    assert orders.filter(pl.col("event") == "new").height == summary["total"]["orders"]
    coin_fees = summary["strategies"][0]["pnl_by_currency"]["ETH"]["fees"]  # inverse: in coin
    assert fills["fee"].sum() == pytest.approx(coin_fees) and coin_fees > 0
    assert pl.read_parquet(tmp_path / "run" / "equity.parquet").height > 0


# --------------------------------------------------------------------------- --strategy/--param


def test_param_applies_to_the_preceding_strategy(cli: Cli, bundled_sample: Path) -> None:
    code, out, _ = cli("backtest", "--data", bundled_sample, "--instrument", "ETH-PERPETUAL",
                       "--strategy", "momentum", "--param", "span=20",
                       "--strategy=momentum", "--param=threshold=0.001", "--param", "size=2",
                       "--json")  # fmt: skip
    assert code == 0
    defaults = qk.strategies.momentum.params
    params = [(s["name"], s["params"]) for s in json.loads(out)["strategies"]]
    assert params == [
        ("momentum", {**defaults, "span": 20}),
        ("momentum#2", {**defaults, "threshold": 0.001, "size": 2.0}),
    ]


def test_config_file(cli: Cli, bundled_sample: Path, tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(
        f'data = "{bundled_sample}"\nfee_bps_taker = 5.0\n\n'
        '[[strategy]]\nname = "momentum"\nlabel = "mom_eth"\ninstruments = ["ETH-PERPETUAL"]\n'
        "params = { span = 100, threshold = 0.001 }\n"
    )
    code, out, _ = cli("backtest", "--config", toml, "--json")
    assert code == 0
    [s] = json.loads(out)["strategies"]
    assert (s["name"], s["instruments"]) == ("mom_eth", ["ETH-PERPETUAL"])
    assert s["params"] == {**qk.strategies.momentum.params, "threshold": 0.001}
    assert s["fills"] > 0 and s["fees"] > 0.0
    # a command-line option beats the file
    code, out, _ = cli("backtest", "--config", toml, "--fee-bps-taker", "0", "--json")
    assert code == 0 and json.loads(out)["strategies"][0]["fees"] == 0.0


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('dta = "x.parquet"\n', ("unknown key 'dta'", "did you mean 'data'")),
        ('[[strategy]]\nname = "momentum"\nparam = { span = 3 }\n',
         ("strategy #1", "unknown key 'param'", "did you mean 'params'")),
        ("fee_bps_taker = 'five'\n", ("fee_bps_taker", "number")),
        ('[[strategy]]\nname = "momentum"\nparams = { span = "2" }\n',
         ("'span'", "integer", "string '2'")),  # TOML has types: a string is not parsed
        ('[[strategy]]\nname = "momentum"\nparams = { span = 2.0 }\n', ("'span'", "integer")),
        ('[[strategy]]\nname = "momentum"\nparams = { size = 0 }\n', ("'size'", "> 0")),
        ('[[strategy]]\nname = "momentum"\nwhere = "x"\n', ("unknown key 'where'",)),
        ("data = [\n", ("not valid TOML",)),
    ],
)  # fmt: skip
def test_bad_config_file(cli: Cli, tmp_path: Path, text: str, needles: tuple[str, ...]) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(text)
    assert_user_error(*cli("backtest", "--config", toml), "run.toml", *needles)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--strategy", "momentm"], ["unknown strategy 'momentm'", "did you mean 'momentum'"]),
        (["--strategy", "nosuchmod:Thing"], ["nosuchmod"]),
        (["--strategy", "momentum", "--param", "spn=3"],
         ["no parameter 'spn'", "did you mean 'span'"]),
        (["--strategy", "momentum", "--param", "span=abc"], ["'span'", "integer", "'abc'"]),
        (["--strategy", "momentum", "--param", "span=2.5"], ["'span'", "integer"]),
        (["--strategy", "momentum", "--param", "threshold=high"], ["'threshold'", "number"]),
        (["--strategy", "momentum", "--param", "span=0"], ["'span'", ">= 1", "got 0"]),
        (["--strategy", "momentum", "--param", "span=-1"], ["'span'", ">= 1"]),
        (["--strategy", "momentum", "--param", "size=0"], ["'size'", "> 0"]),
        (["--strategy", "momentum", "--param", "threshold=-0.1"], ["'threshold'", ">= 0"]),
        (["--strategy", "momentum", "--param", "threshold=inf"], ["'threshold'", "finite"]),
        (["--strategy", "momentum", "--param", "span"], ["KEY=VALUE"]),
        (["--param", "span=3", "--strategy", "momentum"], ["--param must follow"]),
        (["--instrument", "BTC-PERPETUALL"], ["'BTC-PERPETUALL'", "did you mean 'BTC-PERPETUAL'"]),
        (["--strategy", "gamma_scalp", "--param", "hedge_instrument=SOL-PERPETUAL"],
         ["'SOL-PERPETUAL'", "not in the data"]),
        (["--batch-size", "-1"], ["--batch-size", ">= 0"]),
        (["--batch-size", "many"], ["--batch-size", "'many'"]),
        (["--latency-ms", "-3"], ["latency_ms", ">= 0"]),
        (["--accounting", "inverse"], ["--accounting", "'inverse'"]),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    cli: Cli, bundled_sample: Path, args: list[str], needles: list[str]
) -> None:
    assert_user_error(*cli("backtest", "--data", bundled_sample, *args), *needles)


def test_missing_data_file(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.parquet"
    assert_user_error(*cli("backtest", "--data", missing), str(missing))


def test_unreadable_data_file(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "ticks.parquet"
    bad.write_text("ts,instrument,bid,ask\n1,X,1,2\n")
    assert_user_error(*cli("backtest", "--data", bad), str(bad), "Parquet")


def test_data_without_required_columns(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "ticks.parquet"
    pl.DataFrame({"ts": [1, 2], "symbol": ["X", "X"], "bid": [1.0, 1.0]}).write_parquet(path)
    assert_user_error(*cli("backtest", "--data", path), "instrument")


# --------------------------------------------------------------------------- real process


def _console() -> list[str]:
    script = Path(sys.executable).with_name("quantkit")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from quantkit.cli.main import main; main()"]


def test_console_script_prints_json(bundled_sample: Path) -> None:
    proc = subprocess.run(
        [*_console(), "backtest", "--data", str(bundled_sample), "--instrument", "ETH-PERPETUAL",
         "--json"], capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) >= TOP_KEYS


@pytest.mark.parametrize(
    "command",
    [_console(), [sys.executable, "-m", "quantkit"], [sys.executable, "-m", "quantkit.cli.main"]],
    ids=["console script", "python -m quantkit", "python -m quantkit.cli.main"],
)
def test_console_script_user_error_has_no_traceback(command: list[str]) -> None:
    proc = subprocess.run([*command, "backtest", "--strategy", "momentm"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert_user_error(proc.returncode, proc.stdout, proc.stderr, "did you mean 'momentum'")


def test_a_strategy_that_does_not_compile_is_one_line_and_exit_2(
    cli: Cli, bundled_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_strategy.py").write_text(
        "from numba import njit\n"
        "import quantkit as qk\n\n"
        "@njit\n"
        "def on_quote(ctx, p, s):\n"
        "    s.n = ctx.bid_sise\n\n"
        "Broken = qk.Strategy('broken', on_quote, state=[('n', 'f8')])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = cli(
        "backtest", "--data", bundled_sample, "--strategy", "broken_strategy:Broken"
    )
    assert_user_error(code, out, err, "strategy 'broken' does not compile with numba", "bid_sise")


def test_a_price_of_0_on_an_inverse_contract_is_one_line_and_exit_2(
    cli: Cli, tmp_path: Path
) -> None:
    data = tmp_path / "perp.parquet"
    pl.DataFrame({
        "ts": [1, 2, 3], "instrument": ["BTC-PERPETUAL"] * 3, "bid": [60000.0, 0.0, 60001.0],
        "ask": [60000.5, 60000.5, 60001.5], "bid_size": [10.0] * 3, "ask_size": [10.0] * 3,
    }).write_parquet(data)  # fmt: skip
    assert_user_error(*cli("backtest", "--data", data), "event 1 of the run", "BTC-PERPETUAL",
                      "bid is 0.0", "inverse contract must be > 0")  # fmt: skip
