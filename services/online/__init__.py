"""Online store: every online write and read, in Feast's own Redis/SQLite format."""
