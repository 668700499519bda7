-- The liquidity pool's state from the ledger, two grains in one table:
--   grain 'account_kind': balance summed per account kind (debit positive), with the number of accounts;
--   grain 'leg': what open bets owe per leg (market and side): open bets, stakes, max payout, liability.
-- Empty until the ledger holds accounts and bets.
with balances as (
    select
        'account_kind' as grain,
        kind as account_kind,
        null::text as market_ticker,
        null::text as side,
        sum(balance)::numeric(20, 4) as balance,
        count(*) as n_accounts,
        null::bigint as open_bets,
        null::numeric(20, 4) as stakes,
        null::numeric(20, 4) as max_payout,
        null::numeric(20, 4) as liability
    from {{ source('ledger', 'account_balances') }}
    group by kind
),

legs as (
    select
        'leg' as grain,
        null::text as account_kind,
        market_ticker,
        side,
        null::numeric(20, 4) as balance,
        null::bigint as n_accounts,
        open_bets,
        stakes,
        max_payout,
        liability
    from {{ source('ledger', 'leg_exposures') }}
)

select *, now() as as_of from balances
union all
select *, now() as as_of from legs
