"""The one place that keeps secrets out of what ftcot records or prints.

- ``Redactor``: removes given keys, ``*_API_KEY``/``*_TOKEN``/``*_SECRET``/``*_KEY`` environment
  values, key-like words and the password part of any URL from a text (error messages);
- ``public_address``: an address without its userinfo (``user:KEY@``) and without query
  parameters whose name looks like a credential (``?api_key=...``);
- ``public_options``: plugin options without credential-named entries, every address made public.
Teachers and students route every provider error through ``describe``/``one_line``.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_WORDS = "key|token|secret|password"
SECRET_NAME = re.compile(_SECRET_WORDS, re.IGNORECASE)
"""An option or query parameter with such a name holds a credential (never recorded, never keyed)."""

_KEY_LIKE = re.compile(r"\b(sk|pk|key|api)[-_][A-Za-z0-9_\-]{12,}")
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s?#]*@")
_QUERY_SECRET = re.compile(rf"(?P<name>[?&][^=&\s#]*(?:{_SECRET_WORDS})[^=&\s#]*=)[^&\s#]+", re.IGNORECASE)
_ENV_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_KEY")


class Redactor:
    """Removes secrets (given keys, secret-named environment values, URL passwords) from text;
    ``addresses``: URLs whose userinfo and credential-named query values are secrets too."""

    def __init__(self, *secrets: str | None, addresses: tuple[str | None, ...] = ()):
        found = {s for s in (*secrets, *_address_secrets(addresses)) if s and len(s) >= 6}
        for name, value in os.environ.items():
            if name.endswith(_ENV_SUFFIXES) and value and len(value) >= 6:
                found.add(value)
        self.secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = _USERINFO.sub(lambda m: m.group("scheme") + "***@", text)
        text = _QUERY_SECRET.sub(lambda m: m.group("name") + "***", text)
        return _KEY_LIKE.sub("***", text)


def _address_secrets(addresses: tuple[str | None, ...]) -> list[str]:
    """The userinfo (whole and its parts) and credential-named query values of ``addresses``."""
    found: list[str] = []
    for address in addresses:
        if not address:
            continue
        try:
            parts = urlsplit(address)
        except ValueError:
            continue
        userinfo = parts.netloc.rpartition("@")[0]
        if userinfo:
            found += [userinfo, *userinfo.split(":")]
        found += [v for k, v in parse_qsl(parts.query) if SECRET_NAME.search(k)]
    return found


def one_line(text: str, redact: Redactor) -> str:
    """``text`` on one short line (whitespace collapsed, at most 240 characters), secrets removed."""
    message = " ".join(redact(text).split())
    return message[:237] + "..." if len(message) > 240 else message


def describe(exc: BaseException, redact: Redactor) -> str:
    """One short line naming an error, with secrets removed."""
    message = one_line(str(exc), redact)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def public_address(address: str) -> str:
    """``address`` without userinfo and without credential-named query parameters (text that
    is not a URL comes back with only its URL-like parts cleaned)."""
    try:
        parts = urlsplit(address)
    except ValueError:
        return Redactor()(address)
    if not parts.scheme or not parts.netloc:
        return _USERINFO.sub(lambda m: m.group("scheme"), address)
    host = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not SECRET_NAME.search(k)])
    return urlunsplit((parts.scheme, host, parts.path, query, parts.fragment))


def public_options(options: dict[str, Any]) -> dict[str, Any]:
    """Plugin options as they may be recorded: credential-named ones dropped, addresses public."""
    return {k: public_address(v) if isinstance(v, str) and "://" in v else v
            for k, v in options.items() if not SECRET_NAME.search(k)}
