"""Edges of the parlay market maker: configuration, storage, the Kalshi client, data sources, CLI."""
