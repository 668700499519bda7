{#-
    The family of a market, from its series ticker and title, then its strike metadata:
      spread     series or title about a point spread ("wins by over …")
      total      series or title about total points (game totals, total brackets, team totals)
      moneyline  series of game winners (…GAME, …WINNER, …ML), or a strike-less market of an event
                 flagged mutually exclusive whose title asks for a winner
      prop       player props (series naming a player statistic)
      other      anything else
    The subfamily refines it: total_ladder ("over" strikes), total_bracket (strike ranges of an
    exclusive event), team_total.
-#}
{% macro market_family(series_ticker, title, strike_type, mutually_exclusive) -%}
    case
        when {{ series_ticker }} ~ 'SPREAD' or {{ title }} ~* '(spread|wins by over)' then 'spread'
        when {{ series_ticker }} ~ 'TOTAL' or {{ title }} ~* 'total points' then 'total'
        when {{ series_ticker }} ~ '(GAME|WINNER|ML)$'
            or ({{ strike_type }} is null and coalesce({{ mutually_exclusive }}, false)
                and {{ title }} ~* '(winner|who will win)') then 'moneyline'
        when {{ series_ticker }} ~ '(PROP|PTS|REB|AST|3PT|PRA|PLAYER)' then 'prop'
        else 'other'
    end
{%- endmacro %}


{% macro market_subfamily(family, series_ticker, strike_type, mutually_exclusive) -%}
    case
        when {{ family }} = 'total' and {{ series_ticker }} ~ 'TEAMTOTAL' then 'team_total'
        when {{ family }} = 'total' and coalesce({{ mutually_exclusive }}, false) and {{ strike_type }} is not null
            then 'total_bracket'
        when {{ family }} = 'total' then 'total_ladder'
        else {{ family }}
    end
{%- endmacro %}


{#- The game cluster of an event: its ticker without the series prefix (KXNBAGAME-26MAR07GSWOKC → 26MAR07GSWOKC). -#}
{% macro cluster_id(event_ticker, series_ticker) -%}
    case
        when {{ series_ticker }} is not null and {{ event_ticker }} like {{ series_ticker }} || '-%'
            then substr({{ event_ticker }}, length({{ series_ticker }}) + 2)
        when strpos({{ event_ticker }}, '-') > 0 then substr({{ event_ticker }}, strpos({{ event_ticker }}, '-') + 1)
        else {{ event_ticker }}
    end
{%- endmacro %}
