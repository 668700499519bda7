{{ config(materialized='view') }}
-- Pairwise correlation of 1-minute log-odds changes, per trading day: every pair of markets of one game
-- cluster quoted in the same minutes, and as a control across clusters, every pair of moneylines of
-- different games (cross-game pairs of every market would be most of the work at scale: 6 games of 70–135
-- markets have about 33,000 pairs within games and 160,000 across; the fits read only pairs within games).
-- Observations: minutes in which both markets have a fresh (not stale) quote with a defined change,
-- and at least one of the two changes is non-zero (minutes where neither moved carry no information
-- and would only dilute the estimate).
-- Pairs are formed on small integer market ids (grouping on tickers would cost several times more).
with markets as (
    select
        market_ticker,
        cluster_id,
        market_family = 'moneyline' as is_moneyline,
        (row_number() over (order by market_ticker))::int as market_id
    from {{ ref('int_markets_classified') }}
),

changes as (
    select c.trading_day, m.market_id, m.cluster_id, m.is_moneyline, c.minute, c.d_log_odds
    from {{ ref('int_log_odds_changes_computed') }} as c
    join markets as m on m.market_ticker = c.market_ticker
    where c.d_log_odds is not null and not c.is_stale
),

joined as (
    -- within a game cluster
    select a.trading_day, a.market_id as id_a, b.market_id as id_b, a.d_log_odds as x, b.d_log_odds as y
    from changes as a
    join changes as b
        on b.trading_day = a.trading_day
        and b.minute = a.minute
        and b.cluster_id = a.cluster_id
        and b.market_id > a.market_id
    where a.d_log_odds <> 0 or b.d_log_odds <> 0
    union all
    -- the control: moneylines of different games
    select a.trading_day, a.market_id, b.market_id, a.d_log_odds, b.d_log_odds
    from changes as a
    join changes as b
        on b.trading_day = a.trading_day
        and b.minute = a.minute
        and b.market_id > a.market_id
        and b.cluster_id is distinct from a.cluster_id
    where a.is_moneyline and b.is_moneyline and (a.d_log_odds <> 0 or b.d_log_odds <> 0)
),

pairs as (
    select
        trading_day,
        id_a,
        id_b,
        count(*) as n,
        corr(x, y) as rho,
        stddev_samp(x) as sd_a,
        stddev_samp(y) as sd_b
    from joined
    group by trading_day, id_a, id_b
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
