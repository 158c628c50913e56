"""Which certificates TLS trusts: the operating system's store through ``truststore``, or certifi's list alone.

Antivirus HTTPS scanning and company TLS inspection add their root certificate to the OS store
(the Windows certificate store, the macOS Keychain) and nowhere else. No ``requests`` here:
:mod:`ailicia_core.transport` hands the context to every connection pool, and
:mod:`ailicia_core.python_env` reports which trust is in use in the panel.
"""

from __future__ import annotations

import ssl
from typing import Optional


def os_trust_context() -> Optional[ssl.SSLContext]:
    """A client ``SSLContext`` that verifies against the OS trust store, or None (certifi alone, then).

    None when ``truststore`` cannot be imported (not installed, Python older than 3.10) or its
    context cannot be built. The context requires a valid certificate for the host name; it serves
    verified requests only (this package never sends with ``verify=False``). ``truststore`` is never
    injected into the ``ssl`` module: other OBS scripts share this interpreter.
    """
    try:
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except Exception:  # an old Python, a missing or broken package: certifi still verifies
        return None
