"""Several processes on one PostgreSQL and one Redis (issue 14, contract §6): see node.py
for the design and docs/architecture.md, "Several processes"."""

from __future__ import annotations

import secrets
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..forum import Forum
    from .node import Cluster


def make_cluster(forum: "Forum") -> "Cluster | None":
    """The cluster node of this app when FORUM_REDIS_URL is set (it needs PostgreSQL), else
    None: one process, nothing changes."""
    settings = forum.settings
    if not settings.redis_url:
        return None
    if not settings.database_url:
        raise SystemExit("FORUM_REDIS_URL (a cluster) needs FORUM_DATABASE_URL (PostgreSQL)")
    from .node import Cluster
    node = settings.node_id or f"{socket.gethostname()}-{secrets.token_hex(3)}"
    cluster = Cluster(forum, settings.database_url, settings.redis_url, node,
                      lease_s=settings.limits.owner_lease_s)
    forum.loader = cluster.load
    forum.on_unload.append(cluster.unloaded)
    from .follower import keep_media_on_owner, sync_queries
    forum.on_runtime.append(keep_media_on_owner)  # after the media service's hook
    sync_queries(forum.features)
    return cluster


def install(app: Any, cluster: "Cluster | None") -> None:
    """HTTP writes of events this node follows go to their owner (cluster/http.py)."""
    if cluster is None:
        return
    from .http import ForwardWrites
    app.add_middleware(ForwardWrites, cluster=cluster)
    cluster.app = app
