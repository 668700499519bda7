{{ config(
    pre_hook='set local jit = off',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='trading_day',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['combo_ticker']}, {'columns': ['trade_id']}, {'columns': ['trading_day']}],
    post_hook='analyze {{ this }}'
) }}
-- Parlay features per combo observation: every combo trade, and every listed combo once per trading day
-- (as of its legs' last quotes). Leg probabilities are side-adjusted implied probabilities.
--   independence_price  Π p_leg;  Fréchet bounds  max(0, Σ p_leg − (k − 1)) ≤ P ≤ min p_leg
--   covariance_sum      Σ_{i<j} s_i s_j ρ_ij σ_i σ_j, σ_i = sqrt(p_i (1 − p_i)), s = +1 YES / −1 NO, with ρ the
--                       same-day correlation of the two markets' log-odds changes (pairs without one add 0)
--   independence test   T = max_{i<j} |z_ij|, z_ij = atanh(ρ_ij)·sqrt(n_ij − 3) (Fisher); under independent
--                       legs each z_ij ~ N(0, 1); p-value Bonferroni-adjusted over the m pairs with a ρ:
--                       min(1, m · 2(1 − Φ(T))); rejected when below 0.05
--   regime flags        pre_game / in_play / mixed (legs' games vs their in-play start, int_clusters_timed),
--                       near_expiry (a leg closes within near_expiry_minutes), high_vol (a leg's 15-minute
--                       realized volatility ≥ high_vol_ratio × its median that day), stale_leg (a leg without
--                       a quote, or with one older than stale_after_seconds)
--   impossible          from the structural layer (marts.combo_structure, written by the Python assets of
--                       dagster_project/assets/features.py, which run after the marts this model reads);
--                       null while that table does not exist yet
{%- set structure = source('marts', 'combo_structure') %}
{%- set structure_exists = true %}
{%- if execute and structure.database is not none and structure.schema is not none %}
    {#- a real relation (in a unit test it is the fixture): read it only once the structural layer wrote it -#}
    {%- set structure_exists = adapter.get_relation(
            database=structure.database, schema=structure.schema, identifier=structure.identifier) is not none %}
{%- endif %}
with legs as (
    select
        l.*,
        case l.side when 'yes' then 1 else -1 end as sign,
        t.in_play_start,
        l.ts >= t.in_play_start as leg_in_play,
        l.close_time - l.ts <= make_interval(mins => {{ feature_setting('near_expiry_minutes') }}) as leg_near_expiry,
        coalesce(l.realized_vol_15m > 0
                 and l.realized_vol_15m >= {{ feature_setting('high_vol_ratio') }} * l.median_vol_15m, false)
            as leg_high_vol,
        (l.quote_ts is null or l.staleness_seconds > {{ feature_setting('stale_after_seconds') }}) as leg_stale
    from {{ ref('int_combo_legs_priced') }} as l
    left join {{ ref('int_clusters_timed') }} as t
        on t.cluster_id = l.cluster_id and t.trading_day = l.trading_day
    where {{ on_run_day('l.trading_day') }}
),

per_row as (
    select
        combo_row_id,
        min(row_kind) as row_kind,
        min(combo_ticker) as combo_ticker,
        min(trade_id) as trade_id,
        min(ts) as ts,
        min(trading_day) as trading_day,
        min(traded_price) as traded_price,
        min(contracts) as contracts,
        count(*) as n_legs,
        count(p_leg) as n_priced_legs,
        count(distinct cluster_id) as n_clusters,
        jsonb_agg(
            jsonb_build_object(
                'leg_index', leg_index, 'market_ticker', market_ticker, 'side', side, 'cluster_id', cluster_id,
                'p_yes', p_yes, 'p_leg', p_leg, 'yes_bid', yes_bid, 'yes_ask', yes_ask,
                'staleness_seconds', staleness_seconds, 'realized_vol_15m', realized_vol_15m
            ) order by leg_index
        ) as legs,
        array_agg(p_leg order by leg_index) as leg_probabilities,
        case when count(p_leg) = count(*) then exp(sum(ln(greatest(p_leg, 1e-12)))) end as independence_price,
        case when count(p_leg) = count(*) then greatest(0, sum(p_leg) - (count(*) - 1)) end as frechet_lower,
        case when count(p_leg) = count(*) then min(p_leg) end as frechet_upper,
        bool_or(leg_in_play) as any_in_play,
        bool_and(leg_in_play) as all_in_play,
        bool_or(leg_near_expiry) as near_expiry,
        bool_or(leg_high_vol) as high_vol,
        bool_or(leg_stale) as stale_leg
    from legs
    group by combo_row_id
),

leg_pairs as (
    select
        a.combo_row_id,
        pc.rho,
        pc.z,
        a.sign * b.sign * pc.rho * sqrt(a.p_leg * (1 - a.p_leg)) * sqrt(b.p_leg * (1 - b.p_leg)) as covariance
    from legs as a
    join legs as b on b.combo_row_id = a.combo_row_id and b.leg_index > a.leg_index
    left join {{ ref('pair_correlations') }} as pc
        on pc.trading_day = a.trading_day
        and pc.market_a = least(a.market_ticker, b.market_ticker)
        and pc.market_b = greatest(a.market_ticker, b.market_ticker)
),

pairs as (
    select
        combo_row_id,
        count(*) as n_leg_pairs,
        count(rho) as n_pairs_with_rho,
        coalesce(sum(covariance), 0) as covariance_sum,
        max(abs(z)) as independence_stat
    from leg_pairs
    group by combo_row_id
)

select
    r.trading_day,
    r.combo_row_id,
    r.row_kind,
    r.combo_ticker,
    r.trade_id,
    r.ts,
    r.n_legs,
    r.n_priced_legs,
    r.n_clusters,
    r.legs,
    r.leg_probabilities,
    r.independence_price,
    r.frechet_lower,
    r.frechet_upper,
    p.covariance_sum,
    p.n_leg_pairs,
    p.n_pairs_with_rho,
    p.independence_stat,
    case
        when p.independence_stat is not null
            then least(1, p.n_pairs_with_rho * {{ normal_two_sided_p('p.independence_stat') }})
    end as independence_p_value,
    case
        when p.independence_stat is not null
            then p.n_pairs_with_rho * {{ normal_two_sided_p('p.independence_stat') }} < 0.05
    end as independence_rejected,
    case
        when r.all_in_play then 'in_play'
        when r.any_in_play then 'mixed'
        when r.any_in_play is not null then 'pre_game'
    end as regime,
    not r.any_in_play as pre_game,
    r.any_in_play as in_play,
    r.near_expiry,
    r.high_vol,
    r.stale_leg,
{%- if structure_exists %}
    s.impossible,
    s.impossible_reason,
    s.impossible_detail,
{%- else %}
    null::boolean as impossible,
    null::text as impossible_reason,
    null::text as impossible_detail,
{%- endif %}
    r.traded_price,
    r.contracts,
    r.traded_price - r.independence_price as excess_over_independence,
    r.traded_price - r.frechet_upper as excess_over_frechet_upper
from per_row as r
left join pairs as p on p.combo_row_id = r.combo_row_id
{%- if structure_exists %}
left join {{ structure }} as s on s.combo_ticker = r.combo_ticker and s.trading_day = r.trading_day
{%- endif %}
