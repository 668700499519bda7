"""Ledger rules: which double-entry postings each business event makes. Pure: no database.

Amounts are exact dollars; a positive amount debits an account, a negative one credits it; the
postings of one event always sum to zero.

Accounts (kind → meaning):

* ``lp:capital``      LP equity put in (credit balance)
* ``pool:cash``       cash the pool holds (debit balance)
* ``pool:reserve``    pool capital set aside against open bets' payouts beyond their stakes
* ``bettors:stakes``  stakes of open bets (credit: owed back only through settlement)
* ``liability:<bet>`` payout beyond the stake reserved for one open bet (credit)
* ``payouts``         what winning bets cost the pool beyond their stakes (expense)
* ``income:premium``  stakes of lost bets, kept by the pool (income)
* ``fees``            exchange fees on hedges (expense)
* ``hedge:<market>:<side>`` cost basis of contracts held on the exchange
* ``hedge:pnl``       realized result of hedges at settlement

A bet of stake S and payout P: placing it receives S and reserves P − S; losing moves S to income and
releases the reserve; winning pays P out of cash (S of it was the bettor's) and releases the reserve;
voiding returns S.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)

LP_CAPITAL = "lp:capital"
POOL_CASH = "pool:cash"
POOL_RESERVE = "pool:reserve"
STAKES = "bettors:stakes"
PAYOUTS = "payouts"
PREMIUM = "income:premium"
FEES = "fees"
HEDGE_PNL = "hedge:pnl"

ACCOUNT_KINDS = {
    LP_CAPITAL: "lp_capital",
    POOL_CASH: "pool_cash",
    POOL_RESERVE: "reserve",
    STAKES: "bettor_stakes",
    PAYOUTS: "payouts",
    PREMIUM: "premium_income",
    FEES: "fees",
    HEDGE_PNL: "hedge_pnl",
}


def liability_account(bet_id: str) -> str:
    return f"liability:{bet_id}"


def hedge_account(market: str, side: str) -> str:
    return f"hedge:{market}:{side}"


def account_kind(account: str) -> str:
    if account in ACCOUNT_KINDS:
        return ACCOUNT_KINDS[account]
    if account.startswith("liability:"):
        return "bet_liability"
    if account.startswith("hedge:"):
        return "hedge_positions"
    raise ValueError(f"unknown account {account!r}")


@dataclass(frozen=True)
class Posting:
    account: str
    amount: Decimal


class UnbalancedError(ValueError):
    pass


def balanced(postings: list[Posting]) -> list[Posting]:
    """Drop zero amounts and check the sum is exactly zero."""
    out = [p for p in postings if p.amount != ZERO]
    total = sum((p.amount for p in out), ZERO)
    if total != ZERO:
        raise UnbalancedError(f"postings sum to {total}, not 0: {out}")
    return out


def _positive(name: str, value: Decimal) -> None:
    if value <= ZERO:
        raise ValueError(f"{name} must be positive, got {value}")


def deposit(amount: Decimal) -> list[Posting]:
    """LP capital paid into the pool."""
    _positive("deposit", amount)
    return balanced([Posting(POOL_CASH, amount), Posting(LP_CAPITAL, -amount)])


def bet_placed(bet_id: str, stake: Decimal, payout: Decimal) -> list[Posting]:
    _positive("stake", stake)
    if payout <= stake:
        raise ValueError(f"payout {payout} must exceed stake {stake}")
    reserve = payout - stake
    return balanced([
        Posting(POOL_CASH, stake), Posting(STAKES, -stake),
        Posting(POOL_RESERVE, reserve), Posting(liability_account(bet_id), -reserve),
    ])


def bet_settled(bet_id: str, stake: Decimal, payout: Decimal, outcome: str) -> list[Posting]:
    """``outcome``: "won" (every leg held), "lost", or "void" (stake returned)."""
    reserve = payout - stake
    release = [Posting(liability_account(bet_id), reserve), Posting(POOL_RESERVE, -reserve)]
    if outcome == "lost":
        return balanced([Posting(STAKES, stake), Posting(PREMIUM, -stake), *release])
    if outcome == "won":
        return balanced([Posting(STAKES, stake), Posting(PAYOUTS, reserve), Posting(POOL_CASH, -payout), *release])
    if outcome == "void":
        return balanced([Posting(STAKES, stake), Posting(POOL_CASH, -stake), *release])
    raise ValueError(f"unknown outcome {outcome!r}")


def hedge_filled(market: str, side: str, action: str, count: Decimal, price: Decimal, fee: Decimal,
                 cost_basis: Decimal = ZERO) -> list[Posting]:
    """A fill on the exchange. Buying moves cash into the position at cost; selling takes the position's
    average cost (``cost_basis`` of the contracts sold) out and books the difference as hedge P&L."""
    _positive("count", count)
    notional = count * price
    postings = [Posting(FEES, fee), Posting(POOL_CASH, -fee)] if fee else []
    account = hedge_account(market, side)
    if action == "buy":
        postings += [Posting(account, notional), Posting(POOL_CASH, -notional)]
    elif action == "sell":
        postings += [Posting(POOL_CASH, notional), Posting(account, -cost_basis),
                     Posting(HEDGE_PNL, cost_basis - notional)]
    else:
        raise ValueError(f"unknown action {action!r}")
    return balanced(postings)


def hedge_settled(market: str, side: str, contracts: Decimal, cost_basis: Decimal, won: bool) -> list[Posting]:
    """Contracts held at settlement pay $1 each when their side wins; the position is closed."""
    value = contracts if won else ZERO
    return balanced([
        Posting(POOL_CASH, value), Posting(hedge_account(market, side), -cost_basis),
        Posting(HEDGE_PNL, cost_basis - value),
    ])
