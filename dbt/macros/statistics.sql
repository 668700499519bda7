{#- Log-odds of a probability already clipped into (0, 1). -#}
{% macro log_odds(p) -%}
    ln(({{ p }})::float8 / (1 - ({{ p }})::float8))
{%- endmacro %}


{#- A probability clipped into [clip, 1 - clip]. -#}
{% macro clip_probability(p) -%}
    least(greatest(({{ p }})::float8, {{ feature_setting('probability_clip') }}), 1 - {{ feature_setting('probability_clip') }})
{%- endmacro %}


{#- Fisher z of a correlation (clamped away from ±1 so the transform stays finite). -#}
{% macro fisher_z(rho) -%}
    atanh(least(greatest(({{ rho }})::float8, -0.999999), 0.999999))
{%- endmacro %}


{#-
    Two-sided normal tail probability 2·(1 − Φ(|z|)) = erfc(|z|/√2), by Abramowitz–Stegun 7.1.26
    (absolute error below 1.5e-7): erfc(x) ≈ t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·exp(−x²),
    t = 1 / (1 + 0.3275911·x).
-#}
{% macro normal_two_sided_p(z) -%}
    (
        select t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
               * exp(-x * x)
        from (select 1 / (1 + 0.3275911 * x) as t, x
              from (select abs(({{ z }})::float8) / sqrt(2) as x) as a) as b
    )
{%- endmacro %}
