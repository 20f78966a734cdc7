"""How :class:`~plait.stores.RedisStore` and :class:`~plait.stores.RedisSharedState`
report redis-py's errors: as StoreErrors that say what to check, with the password taken
out of the URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from plait.core import StoreError, require_extra

if TYPE_CHECKING:
    import redis.exceptions as redis_errors
else:
    redis_errors = require_extra("redis.exceptions", "redis", feature="RedisStore")


def _safe_url(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def redis_errors_explained(
    url: str, what: str, *, passing: tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """redis-py's errors, while doing ``what`` at ``url``, as StoreErrors that say what to
    check (the password hidden); exceptions in ``passing`` go through unchanged."""
    try:
        yield
    except passing:
        raise
    except (redis_errors.AuthenticationError, redis_errors.AuthorizationError) as exc:
        raise StoreError(
            f"Redis at {_safe_url(url)} refused the credentials while trying to {what}: "
            f"{exc}; check the user and password in the URL"
        ) from None
    except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
        raise StoreError(
            f"cannot reach Redis at {_safe_url(url)} to {what}: {exc}; check that the server "
            "is running (redis-cli -u URL ping) and the URL (store=... or PLAIT_STORE)"
        ) from None
    except redis_errors.RedisError as exc:
        raise StoreError(f"Redis failed to {what}: {exc}") from None
