"""The litellm client, configured once for ftcot: the teachers and students that call a provider
through litellm load it from here (``ftcot.api.load_litellm``)."""

from __future__ import annotations

from typing import Any

from ftcot.errors import UserError


def load_litellm(what: str = "this plugin") -> Any:
    """The ``litellm`` module with its async HTTP transport, debug notices and telemetry off;
    a UserError naming ``what`` needs it when it is not installed."""
    try:
        import litellm
    except ImportError:  # pragma: no cover - a declared dependency
        raise UserError(f"{what} needs litellm: pip install litellm") from None
    litellm.disable_aiohttp_transport = True  # else the async text path leaks a session per call
    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm
