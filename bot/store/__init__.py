"""Storage: the only package that speaks SQL."""

from bot.store.database import Database, DatabaseError, Migration

__all__ = ["Database", "DatabaseError", "Migration"]
