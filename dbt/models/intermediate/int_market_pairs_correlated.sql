{{ config(materialized='view') }}
-- Pairwise correlation of 1-minute log-odds changes, per trading day, every pair of markets quoted in
-- the same minutes (within a game cluster, and across clusters as a control).
-- Observations: minutes in which both markets have a fresh (not stale) quote with a defined change,
-- and at least one of the two changes is non-zero (minutes where neither moved carry no information
-- and would only dilute the estimate).
-- Pairs are formed on small integer market ids (grouping on tickers would cost several times more).
with markets as (
    select market_ticker, cluster_id, (row_number() over (order by market_ticker))::int as market_id
    from {{ ref('int_markets_classified') }}
),

changes as (
    select c.trading_day, m.market_id, c.minute, c.d_log_odds
    from {{ ref('int_log_odds_changes_computed') }} as c
    join markets as m on m.market_ticker = c.market_ticker
    where c.d_log_odds is not null and not c.is_stale
),

pairs as (
    select
        a.trading_day,
        a.market_id as id_a,
        b.market_id as id_b,
        count(*) as n,
        corr(a.d_log_odds, b.d_log_odds) as rho,
        stddev_samp(a.d_log_odds) as sd_a,
        stddev_samp(b.d_log_odds) as sd_b
    from changes as a
    join changes as b
        on b.trading_day = a.trading_day
        and b.minute = a.minute
        and b.market_id > a.market_id
    where a.d_log_odds <> 0 or b.d_log_odds <> 0
    group by a.trading_day, a.market_id, b.market_id
)

select
    p.trading_day,
    ma.market_ticker as market_a,
    mb.market_ticker as market_b,
    ma.cluster_id as cluster_a,
    mb.cluster_id as cluster_b,
    coalesce(ma.cluster_id = mb.cluster_id, false) as same_cluster,
    p.n,
    p.rho,
    p.sd_a,
    p.sd_b
from pairs as p
join markets as ma on ma.market_id = p.id_a
join markets as mb on mb.market_id = p.id_b
