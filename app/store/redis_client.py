"""Redis clients, made one way for every user (the broker, the audience, the post rate):
every call bounded in time, connecting included."""

import redis.asyncio as redis


def redis_client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
