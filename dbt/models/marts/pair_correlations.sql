{{ config(
    pre_hook=['set local jit = off', "set local work_mem = '64MB'"],
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='trading_day',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['trading_day', 'market_a', 'market_b'], 'unique': true}],
    post_hook='analyze {{ this }}'
) }}
-- Pairwise correlations of 1-minute log-odds changes per trading day, market_a < market_b, with the
-- Fisher-z 95 % interval tanh(atanh(ρ) ± 1.959964 / sqrt(n − 3)) and the z statistic atanh(ρ)·sqrt(n − 3).
-- Rule for n: minutes where both markets have a fresh quote and at least one of them moved.
-- Pairs with fewer than min_pair_observations observations are left out; ρ is null when a side never moved.
with pairs as (
    select * from {{ ref('int_market_pairs_correlated') }}
    where {{ on_run_day('trading_day') }} and n >= {{ feature_setting('min_pair_observations') }}
)

select
    trading_day,
    market_a,
    market_b,
    cluster_a,
    cluster_b,
    same_cluster,
    n,
    rho,
    -- the interval always holds ρ: at |ρ| = 1 (two markets that move in lockstep, e.g. a game's two sides)
    -- the clamped z would otherwise put ρ just outside it
    case when rho is not null then least(tanh({{ fisher_z('rho') }} - 1.959964 / sqrt(n - 3)), rho) end as ci_low,
    case when rho is not null then greatest(tanh({{ fisher_z('rho') }} + 1.959964 / sqrt(n - 3)), rho) end as ci_high,
    case when rho is not null then {{ fisher_z('rho') }} * sqrt(n - 3) end as z,
    sd_a,
    sd_b
from pairs
