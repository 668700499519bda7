{#- Fails on every row where the boolean expression is false or null (limit rows with the test's `where`
    config). On a column the expression still names the column itself. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
