"""Persistence: SQLAlchemy 2 models, the async engine wrapper, and Alembic migration helpers."""
