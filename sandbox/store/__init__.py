"""Metadata store: SQLAlchemy models, engine and migrations."""

from sandbox.store.db import Database
from sandbox.store.models import (
    ApiToken,
    AuditEntry,
    Base,
    Dataset,
    DatasetColumn,
    DatasetHierarchy,
    Grant,
    Job,
    Organisation,
    Release,
    Review,
    User,
)

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "Database",
    "Dataset",
    "DatasetColumn",
    "DatasetHierarchy",
    "Grant",
    "Job",
    "Organisation",
    "Release",
    "Review",
    "User",
]
