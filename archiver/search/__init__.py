"""Finding captures: full-text search with filters, on SQLite and PostgreSQL alike."""
from archiver.search.backends import PostgresSearch, SearchIndex, SQLiteSearch, search_index_for
from archiver.search.query import QueryError, SearchHit, SearchPage, SearchQuery, query_from_params

__all__ = ["SearchIndex", "SQLiteSearch", "PostgresSearch", "search_index_for", "SearchQuery",
           "SearchHit", "SearchPage", "QueryError", "query_from_params"]
