"""Store and server URLs as they may be shown: passwords and secret options masked.

Everything that prints, logs or raises a URL someone gave (``--store``, ``PLAIT_STORE``)
shows :func:`mask_url` of it, or :func:`mask_secrets` of the text around it. Masking never
raises, however malformed the URL: an error message about a bad URL must not fail, nor
leak what it could not parse.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MASK = "***"

_SECRET_NAMES = (
    "password|passwd|pwd|pass|sslpassword|secret|client_secret|token|access_token|"
    "auth_token|api_key|apikey|key_password"
)
_SECRET_OPTION = re.compile(rf"(?i)([?&;]|^)({_SECRET_NAMES})=([^&#]*)")
"""``password=…`` in a URL query (psycopg takes ``?password=``)."""
_SECRET_KEYWORD = re.compile(rf"(?i)(?<![\w.])({_SECRET_NAMES})(\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)")
"""``password=…`` in a libpq key/value string (``host=db password='s e c'``)."""
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^:/@?#\[\]]*):(.*)@")
"""``scheme://user:password@``, the password running to the last ``@``: what a URL
that does not parse (or hides an unencoded ``/``, ``?``, ``#`` in its password) may be."""
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")


def mask_url(url: str) -> str:
    """``url`` with the password in its user info and the values of secret options
    (``password=``, ``token=``, …) replaced by ``***``; the rest as given.

    ``postgresql://app:s3cret@db/runs`` → ``postgresql://app:***@db/runs``.
    """
    if "://" not in url:
        return _SECRET_KEYWORD.sub(lambda m: m[1] + m[2] + MASK, url)  # key=value DSN
    return _SECRET_OPTION.sub(lambda m: f"{m[1]}{m[2]}={MASK}", _mask_userinfo(url))


def mask_secrets(text: str) -> str:
    """``text`` (an error message, a log line) with every URL in it masked, and every
    ``password=…`` outside them."""
    masked = _URL_IN_TEXT.sub(lambda m: mask_url(m[0]), text)
    return _SECRET_KEYWORD.sub(lambda m: m[1] + m[2] + MASK, masked)


def _mask_userinfo(url: str) -> str:
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        _ = parts.port  # a port that is no number: the split is not to be trusted
    except ValueError:
        return _USERINFO.sub(lambda m: f"{m[1]}{m[2]}:{MASK}@", url)
    user, at, host = netloc.rpartition("@")
    if not at:
        # A password with an unencoded "/", "?" or "#" ends the host early
        # ("redis://:pa/ss@host" splits as host "", port "pa"): look again, less strictly.
        port = netloc.rpartition(":")[2] if ":" in netloc else "0"
        if port.isdigit() and "@" not in parts.path:
            return url
        return _USERINFO.sub(lambda m: f"{m[1]}{m[2]}:{MASK}@", url)
    if ":" not in user:
        return url
    start = url.index("//") + 2
    masked = f"{user.partition(':')[0]}:{MASK}@{host}"
    return url[:start] + masked + url[start + len(netloc) :]


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's error about ``url``) with every piece of the URL's password
    replaced by ``***``, however a driver split the URL: libpq splits user info at the
    first ``@`` where Python splits at the last, so a user name with an unencoded ``@``
    (``app@server:pw@host``) puts the password in what the driver calls the host."""
    for secret in sorted(_password_pieces(url), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return mask_secrets(text)


def _password_pieces(url: str) -> set[str]:
    if "://" not in url:
        return set()
    netloc = url.split("://", 1)[1].split("/", 1)[0]
    userinfo = netloc.rpartition("@")[0]
    if ":" not in userinfo:
        return set()
    password = userinfo.split(":", 1)[1]
    pieces = {password, *password.split("@")}
    return {p for p in pieces if len(p) >= 3}  # shorter pieces would mangle the message
