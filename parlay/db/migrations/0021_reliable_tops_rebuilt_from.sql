-- raw.reliable_orderbook_tops (0015) froze the columns of raw.orderbook_tops as they were then; recreate it so
-- that it carries rebuilt_from (0020) like every later column.
CREATE OR REPLACE VIEW raw.reliable_orderbook_tops AS
SELECT *
FROM raw.orderbook_tops
WHERE reliable AND NOT crossed;
