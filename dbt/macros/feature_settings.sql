{#-
    Settings of the feature models, each overridable with `--vars`:
      trading_day              limit incremental models to one trading day (YYYY-MM-DD); unset: every day
      stale_after_seconds      a quote older than this is stale (panel, combo legs)            default 300
      probability_clip         implied probabilities are clipped into [clip, 1 - clip]           default 0.005
      min_pair_observations    fewest overlapping observations behind a pair correlation         default 10
      near_expiry_minutes      a combo is near expiry when a leg closes within this many minutes default 15
      high_vol_ratio           a leg is in a high-volatility regime when its 15-minute realized
                               volatility is at least this multiple of its median that day      default 2
      in_play_volume_ratio     a game is in play from the first minute whose trailing 10-minute
                               trade count reaches this multiple of its pre-game baseline        default 3
      expected_game_minutes    without a volume pickup, play starts this long before the close   default 180
-#}
{% macro feature_setting(name) -%}
    {%- set defaults = {
        'stale_after_seconds': 300,
        'probability_clip': 0.005,
        'min_pair_observations': 10,
        'near_expiry_minutes': 15,
        'high_vol_ratio': 2,
        'in_play_volume_ratio': 3,
        'expected_game_minutes': 180,
    } -%}
    {%- if name not in defaults -%}
        {{ exceptions.raise_compiler_error("unknown feature setting " ~ name) }}
    {%- endif -%}
    {{ var(name, defaults[name]) }}
{%- endmacro %}


{#- The run's trading day as a SQL date literal, or none when the run covers every day. -#}
{% macro run_trading_day() -%}
    {%- set day = var('trading_day', none) -%}
    {%- if day is none or day == '' -%}{{ return(none) }}{%- endif -%}
    {{ return("date '" ~ (day | string) ~ "'") }}
{%- endmacro %}


{#- `<column> = <day>` when the run is limited to a trading day, else `true`. -#}
{% macro on_run_day(column) -%}
    {%- set day = run_trading_day() -%}
    {%- if day is none -%}true{%- else -%}{{ column }} = {{ day }}{%- endif -%}
{%- endmacro %}


{#- `<column> in (<day> - 1, <day>)` (the day and the one before it), else `true`. -#}
{% macro on_run_day_or_before(column) -%}
    {%- set day = run_trading_day() -%}
    {%- if day is none -%}true{%- else -%}{{ column }} between {{ day }} - 1 and {{ day }}{%- endif -%}
{%- endmacro %}


{#- The trading day (exchange calendar, America/New_York) of a timestamptz expression. -#}
{% macro trading_day_of(ts) -%}
    (({{ ts }}) at time zone 'America/New_York')::date
{%- endmacro %}
