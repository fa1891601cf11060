"""Redis clients, made one way for every user (the broker, the audience, the post rate):
every call bounded in time, connecting included.

`redis+cluster://host:port[,host:port...]` names a Redis Cluster by some of its nodes (the
client learns the rest, and follows failovers and moved slots); any other URL, one server.
"""

from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def is_cluster(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEMES)


def cluster_nodes(url: str) -> list[ClusterNode]:
    netloc = urlsplit(url).netloc.rpartition("@")[2]
    nodes = []
    for node in netloc.split(","):
        host, _, port = node.rpartition(":")
        nodes.append(ClusterNode(host or node, int(port) if host else 6379))
    return nodes


def redis_client(url: str, timeout: float) -> Any:
    """A `redis.Redis`, or a `RedisCluster` (same commands, keys routed by slot)."""
    if is_cluster(url):
        parts = urlsplit(url)
        return RedisCluster(
            startup_nodes=cluster_nodes(url),
            username=parts.username,
            password=parts.password,
            ssl=url.startswith("rediss"),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
