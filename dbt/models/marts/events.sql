-- One row per event: its game cluster, series, the mutually-exclusive flag and how many markets it lists.
with events as (
    select * from {{ ref('stg_kalshi__events') }}
),

markets as (
    select event_ticker, count(*) as n_markets, min(market_family) as market_family,
           count(distinct market_family) as n_families
    from {{ ref('int_markets_classified') }}
    group by event_ticker
)

select
    e.event_ticker,
    {{ cluster_id('e.event_ticker', 'e.series_ticker') }} as cluster_id,
    e.series_ticker,
    e.mutually_exclusive,
    coalesce(m.n_markets, 0) as n_markets,
    case when m.n_families = 1 then m.market_family end as market_family,
    e.event_title as title,
    e.strike_date
from events as e
left join markets as m on m.event_ticker = e.event_ticker
