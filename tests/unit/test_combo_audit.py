"""`parlay evaluate combo-quotes`: the coherence audit of outside combo quotes, on hand-checkable rows."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.pricing.combo_audit import ComboQuoteFileError, audit_combo_quotes, our_prices_cents, read_combo_quotes
from parlay.cli import app

CSV = "leg_1,leg_2,leg_3,quote\n60,50,,36\n95,5,,6\n30,40,50,8\n40,40,,41\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "quotes.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_audit_counts_violations_and_premia(tmp_path: Path) -> None:
    rows = read_combo_quotes(_write(tmp_path, CSV))
    assert [r.line for r in rows] == [2, 3, 4, 5]
    audit = audit_combo_quotes(rows)
    assert audit.rows == 4
    # 6 > min(95, 5) = 5 and 41 > min(40, 40) = 40 break the upper bound; 36 ≤ 50 and 8 ≤ 30 do not
    assert audit.quote_frechet_violations == 2
    # premia over independence: 36-30, 6-4.75, 8-6, 41-16 -> mean 34.25 / 4
    assert audit.quote_premium_cents == pytest.approx((6 + 1.25 + 2 + 25) / 4)
    # our ensemble prices independent legs at the independence price: coherent, no premium
    for d in audit.details:
        assert float(d.ours_cents) == pytest.approx(float(d.independence_cents), abs=1e-6)
    assert audit.ours_frechet_violations == 0
    assert audit.ours_premium_cents == pytest.approx(0.0, abs=1e-6)
    # the offer adds the risk engine's margin: 95¢ × 5¢ = 4.75¢ fair becomes 8¢ > min(95, 5), counted
    offers = {d.line: d.offered_cents for d in audit.details}
    assert offers[3] == Decimal(8) and audit.offered_frechet_violations == 1
    assert audit.offered_premium_cents is not None and 2 <= audit.offered_premium_cents < audit.quote_premium_cents


def test_our_price_is_the_independence_price_plus_margin() -> None:
    # 60¢ × 50¢ = 30¢ fair; base margin 2 points plus the uncertainty share, rounded up to the cent
    fair, offered = our_prices_cents((Decimal(60), Decimal(50)))
    assert float(fair) == pytest.approx(30.0, abs=1e-6)
    assert offered is not None and Decimal(32) <= offered <= Decimal(34)


def test_bad_rows_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ComboQuoteFileError, match=r"quotes.csv:3: leg_2 'x'"):
        read_combo_quotes(_write(tmp_path, "leg_1,leg_2,quote\n60,50,36\n60,x,36\n"))
    with pytest.raises(ComboQuoteFileError, match=r"quotes.csv:2: quote '100'"):
        read_combo_quotes(_write(tmp_path, "leg_1,leg_2,quote\n60,50,100\n"))
    with pytest.raises(ComboQuoteFileError, match=r"quotes.csv:2: a combo needs at least two legs"):
        read_combo_quotes(_write(tmp_path, "leg_1,leg_2,quote\n60,,36\n"))
    with pytest.raises(ComboQuoteFileError, match=r"quotes.csv:1: the header"):
        read_combo_quotes(_write(tmp_path, "a,b\n1,2\n"))


def test_cli_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", "combo-quotes", str(_write(tmp_path, CSV)), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert {
        "rows",
        "quote_frechet_violations",
        "ours_frechet_violations",
        "quote_premium_cents",
        "ours_premium_cents",
    } <= set(figures)
    assert figures["rows"] == 4 and figures["quote_frechet_violations"] == 2


def test_cli_bad_file_exits_nonzero_with_the_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", "combo-quotes", str(_write(tmp_path, "leg_1,leg_2,quote\n1,2,x\n"))])
    assert result.exit_code == 1
    assert "quotes.csv:2" in result.output
