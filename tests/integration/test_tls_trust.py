"""TLS over loopback: the OS trust store is consulted, certifi is the fallback, and a refused certificate says why.

A server with a self-signed certificate for 127.0.0.1 (made here with ``openssl``) stands for
what antivirus HTTPS scanning or company TLS inspection does: a certificate whose root is in
no bundle the script ships. On Linux the "OS store" is the file OpenSSL's defaults name,
which ``SSL_CERT_FILE`` overrides: pointing it at this certificate is how the tests add a
root to the OS store without touching the machine's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, List

import pytest
import requests

from ailicia_core import errors as err
from ailicia_core.client import ApiClient
from ailicia_core.settings import ApiKey
from ailicia_core.status import describe_error

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate (with its key beside it, key.pem) for 127.0.0.1, valid two days."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"), "-days", "2"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return folder / "cert.pem"


class TlsServer(ThreadingHTTPServer):
    """HTTPS on loopback: answers every request ``{"success": true}`` and keeps the paths it was asked."""

    daemon_threads = True

    def __init__(self, cert: Path) -> None:
        import ssl

        super().__init__(("127.0.0.1", 0), _Answer)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, cert.parent / "key.pem")
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server_address[1]}"
        self.requests: List[str] = []

    def handle_error(self, request, client_address) -> None:
        pass  # a refused handshake is the expected case here, not a failure to print


class _Answer(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append(self.path)
        body = json.dumps({"success": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(certificate) -> Iterator[TlsServer]:
    running = TlsServer(certificate)
    thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def client_for(url: str) -> ApiClient:
    return ApiClient(base_url=url, api_key=ApiKey("sk-test-0123456789"), channel="mychannel")


def test_a_certificate_no_store_trusts_is_refused_with_advice_and_nothing_is_sent(server, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(err.NetworkError) as caught:
        client_for(server.url).send_context("Hello", event_type="GAME_EVENT")
    assert caught.value.reason == err.TLS and caught.value.may_have_arrived is False
    words = describe_error(caught.value)
    assert "(certificate problem)" in words
    assert "Antivirus HTTPS scanning" in words and "network that inspects encrypted traffic" in words
    assert "turn off HTTPS scanning for OBS in the antivirus or try another network" in words
    assert "sk-test" not in words
    assert server.requests == []  # the key never crossed an unverified link


def test_a_root_in_the_os_store_is_trusted(server, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    client_for(server.url).send_context("Hello", event_type="GAME_EVENT")
    assert len(server.requests) == 1
    # requests alone (certifi's bundle, as before) refuses the same server: it was the OS store that trusted it.
    with requests.Session() as plain, pytest.raises(requests.exceptions.SSLError):
        plain.post(server.url + "/x", json={}, timeout=5)
    assert len(server.requests) == 1


def test_without_truststore_certifi_alone_decides(server, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    monkeypatch.setitem(sys.modules, "truststore", None)  # as on Python < 3.10, or with no truststore installed
    with pytest.raises(err.NetworkError) as caught:
        client_for(server.url).send_context("Hello", event_type="GAME_EVENT")
    assert caught.value.reason == err.TLS and server.requests == []
