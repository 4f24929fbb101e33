"""Persistence of the lineage plane: ORM models, sessions, repositories, migrations."""
