"""The online store behind one small interface: SQLite through Feast, one Redis, a Redis Cluster.

Callers (``OnlineReader``, ``OnlineWriter``, the materialization record) hold an
:class:`OnlineStore` from :func:`open_online_store` and never ask which store it is; every
implementation keeps Feast's own byte format, so Feast reads what they write.
"""

from services.online.stores.base import (
    OnlineStore,
    ProjectRef,
    SettingsProject,
    open_online_store,
)

__all__ = ["OnlineStore", "ProjectRef", "SettingsProject", "open_online_store"]
