"""The Redis cache, for a site that keeps working while Redis is away.

The cache holds nothing that must survive: API throttle and portal rate-limit
counters, computed metrics, the inbound poll's lock. So while Redis cannot be
reached a read is a miss, a write is dropped, `add` (a lock) is refused and
`incr` finds no counter. With ``RATELIMIT_FAIL_OPEN`` the limits are then off
until Redis is back, and a customer reporting a problem still gets a ticket
instead of an error. After a failure Redis is left alone for a moment, so that
a request does not wait for an unreachable server at every cache call.
"""
import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
# After a failure, how long the cache answers without trying Redis.
PAUSE_SECONDS = 2


def _missing(*args, **kwargs):
    raise ValueError("The cache is unavailable.")


def _unless_unreachable(fallback):
    """Run the Redis operation, or answer `fallback(*its arguments)` while Redis cannot be reached."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if time.monotonic() >= self._paused_until:
                try:
                    return method(self, *args, **kwargs)
                except UNREACHABLE as exc:
                    self._paused_until = time.monotonic() + PAUSE_SECONDS
                    logger.warning("Redis cache unreachable (%s); working without it.", exc)
            return fallback(*args, **kwargs)

        return wrapper

    return decorate


class TolerantRedisCache(RedisCache):
    """Django's Redis cache, except that an unreachable Redis behaves as an empty cache that keeps nothing."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._paused_until = 0.0

    @_unless_unreachable(lambda key, *args, **kwargs: False)
    def add(self, *args, **kwargs):
        return super().add(*args, **kwargs)

    @_unless_unreachable(lambda key, default=None, *args, **kwargs: default)
    def get(self, *args, **kwargs):
        return super().get(*args, **kwargs)

    @_unless_unreachable(lambda *args, **kwargs: None)
    def set(self, *args, **kwargs):
        return super().set(*args, **kwargs)

    @_unless_unreachable(lambda *args, **kwargs: False)
    def touch(self, *args, **kwargs):
        return super().touch(*args, **kwargs)

    @_unless_unreachable(lambda *args, **kwargs: False)
    def delete(self, *args, **kwargs):
        return super().delete(*args, **kwargs)

    @_unless_unreachable(lambda *args, **kwargs: {})
    def get_many(self, *args, **kwargs):
        return super().get_many(*args, **kwargs)

    @_unless_unreachable(lambda *args, **kwargs: False)
    def has_key(self, *args, **kwargs):
        return super().has_key(*args, **kwargs)

    # As for a key that does not exist: callers (django-ratelimit, decr) expect ValueError.
    @_unless_unreachable(_missing)
    def incr(self, *args, **kwargs):
        return super().incr(*args, **kwargs)

    # The keys that were not stored: all of them.
    @_unless_unreachable(lambda data, *args, **kwargs: list(data))
    def set_many(self, *args, **kwargs):
        return super().set_many(*args, **kwargs)

    @_unless_unreachable(lambda *args, **kwargs: None)
    def delete_many(self, *args, **kwargs):
        return super().delete_many(*args, **kwargs)

    @_unless_unreachable(lambda *args, **kwargs: False)
    def clear(self, *args, **kwargs):
        return super().clear(*args, **kwargs)
