"""The quote service: FastAPI app, quoting engine, rate limits (see service/app.py)."""
