-- One row per base market: its game cluster, family (from series and strike metadata), series fees and
-- settlement. Small: rebuilt in full on every run.
with markets as (
    select * from {{ ref('stg_kalshi__markets') }}
),

events as (
    select * from {{ ref('stg_kalshi__events') }}
),

series as (
    select * from {{ ref('stg_kalshi__series') }}
),

settlements as (
    select market_ticker, result from {{ ref('stg_kalshi__settlements') }}
),

joined as (
    select
        m.market_ticker,
        m.event_ticker,
        coalesce(m.series_ticker, e.series_ticker) as series_ticker,
        m.market_title as title,
        m.yes_sub_title,
        m.no_sub_title,
        m.status,
        coalesce(m.result, s.result) as result,
        m.open_time,
        m.close_time,
        m.strike_type,
        m.floor_strike,
        m.cap_strike,
        m.tick_size,
        e.mutually_exclusive,
        e.event_title,
        se.fee_type,
        se.fee_multiplier,
        m.source
    from markets as m
    left join events as e on e.event_ticker = m.event_ticker
    left join series as se on se.series_ticker = coalesce(m.series_ticker, e.series_ticker)
    left join settlements as s on s.market_ticker = m.market_ticker
),

classified as (
    select
        *,
        {{ cluster_id('event_ticker', 'series_ticker') }} as cluster_id,
        {{ market_family('series_ticker', "coalesce(title, '') || ' ' || coalesce(event_title, '')",
                         'strike_type', 'mutually_exclusive') }} as market_family
    from joined
)

select
    market_ticker,
    cluster_id,
    event_ticker,
    series_ticker,
    market_family,
    {{ market_subfamily('market_family', 'series_ticker', 'strike_type', 'mutually_exclusive') }} as market_subfamily,
    strike_type,
    floor_strike,
    cap_strike,
    open_time,
    close_time,
    status,
    result,
    fee_type,
    fee_multiplier,
    yes_sub_title,
    no_sub_title,
    title,
    mutually_exclusive,
    tick_size,
    source
from classified
