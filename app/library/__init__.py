"""The Library page: every model Parley knows, as a sortable, filterable table with file actions."""

from app.library.model import ALL, ENTRY_ROLE, LibraryFilter, LibraryTableModel

__all__ = ["ALL", "ENTRY_ROLE", "LibraryFilter", "LibraryTableModel"]
