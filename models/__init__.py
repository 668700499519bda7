"""The domain core: pure Python (numpy/scipy/pandas/catboost only), no Dagster, no database, no HTTP."""
