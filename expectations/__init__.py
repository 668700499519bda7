"""Great Expectations 1.x suites as code, one module per checked table, and the runner asset checks call.

Validation runs inside Postgres (GX's SQL execution engine): a day's rows are never pulled into Python.
"""
