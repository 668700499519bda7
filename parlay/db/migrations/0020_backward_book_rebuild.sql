-- Book states rebuilt backward from a later snapshot (captures that begin mid-stream) say so:
-- 'closing_snapshot' (from the empty book that ends a capture) or 'later_snapshot' (from a snapshot
-- with ladders). NULL for states rebuilt forward from a snapshot.
ALTER TABLE raw.orderbook_tops ADD COLUMN rebuilt_from text
    CHECK (rebuilt_from IN ('closing_snapshot', 'later_snapshot'));
