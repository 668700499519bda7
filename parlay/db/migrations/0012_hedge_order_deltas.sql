-- Every hedge order records the book delta it came from (YES contracts, the minimum-variance hedge Σ⁻¹c).
ALTER TABLE ledger.hedge_orders ADD COLUMN delta numeric(20, 6);
