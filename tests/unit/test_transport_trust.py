"""transport's adapters trust the OS store through truststore, and fall back to certifi without it."""

import ssl
import sys

import pytest
import requests
import truststore

from ailicia_core import trust
from ailicia_core.transport import OsTrustAdapter, WatchedAdapter, trust_os_store, watch


@pytest.mark.parametrize("adapter_class", [OsTrustAdapter, WatchedAdapter])
def test_the_adapter_hands_urllib3_an_os_store_context(adapter_class):
    adapter = adapter_class()
    try:
        assert isinstance(adapter.ssl_context, truststore.SSLContext)
        assert adapter.poolmanager.connection_pool_kw["ssl_context"] is adapter.ssl_context
        proxied = adapter.proxy_manager_for("http://proxy.invalid:3128")
        assert proxied.connection_pool_kw["ssl_context"] is adapter.ssl_context
    finally:
        adapter.close()


def test_the_context_verifies_certificates_and_host_names():
    context = trust.os_trust_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_without_truststore_the_adapter_keeps_certifi(monkeypatch):
    monkeypatch.setitem(sys.modules, "truststore", None)  # "import truststore" now fails, as on Python < 3.10
    adapter = WatchedAdapter()
    try:
        assert adapter.ssl_context is None
        assert "ssl_context" not in adapter.poolmanager.connection_pool_kw  # requests' default: certifi's bundle
        assert "ssl_context" not in adapter.proxy_manager_for("http://proxy.invalid:3128").connection_pool_kw
    finally:
        adapter.close()


def test_a_context_that_cannot_be_built_means_certifi(monkeypatch):
    def broken(protocol):
        raise OSError("no trust store here")

    monkeypatch.setattr(truststore, "SSLContext", broken)
    assert trust.os_trust_context() is None
    with requests.Session() as session:
        assert watch(session).adapters["https://"].ssl_context is None


def test_truststore_is_never_injected_into_the_ssl_module():
    adapter = WatchedAdapter()
    adapter.close()
    import urllib3.util.ssl_

    # Other OBS scripts share this interpreter: ssl and urllib3 keep their own classes.
    assert ssl.SSLContext is not truststore.SSLContext
    assert urllib3.util.ssl_.SSLContext is not truststore.SSLContext


def test_sessions_are_mounted_once():
    with requests.Session() as session:
        first = trust_os_store(session).adapters["https://"]
        assert isinstance(first, OsTrustAdapter) and first.ssl_context is not None
        assert trust_os_store(session).adapters["https://"] is first
        watch(session)
        assert isinstance(session.adapters["https://"], WatchedAdapter)
        assert trust_os_store(session).adapters["https://"] is session.adapters["https://"]  # already trusts
