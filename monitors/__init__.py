"""newsmon domain: configuration, fetching, extraction, dedup, topics, developments, alerts.

Nothing in this package imports Prefect: every function is plain and testable without a server.
"""
