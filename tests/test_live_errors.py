"""Why an API server could not be read, named from real failed connections.

Each failure is produced by a real connection (a closed port, an unresolvable name, a listener
that never answers, a TLS server with a certificate the client does not trust), first with
urllib3 configured as meshbot configures the kubernetes client (no retries), then through the
live source itself, so the reason a user reads is the one the network gave.
"""

from __future__ import annotations

import io
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
import yaml
from kubernetes import client

from diagnostics.config import Config
from diagnostics.engine import diagnose
from diagnostics.model import ClusterInfo
from diagnostics.replay.runner import ReplayTLS, start_replay
from diagnostics.snapshot import Snapshot
from diagnostics.sources.base import SourceFailure
from diagnostics.sources.factory import live_source
from diagnostics.sources.live import LiveCluster, LiveSource, _network_reason, _read_body
from tests.redis_support import free_port, self_signed
from tests.scenario_support import comparable, run_snapshot, scenarios

DEMO = next(s for s in scenarios() if s.name == "demo")

TIMEOUT = 0.5


def failure(url: str, ca_certs: str | None = None) -> urllib3.exceptions.HTTPError:
    """The exception a GET of `url` raises, as meshbot's client makes it (retries off)."""
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=ca_certs)
    try:
        pool.request("GET", url, timeout=TIMEOUT, retries=False)
    except urllib3.exceptions.HTTPError as exc:
        return exc
    finally:
        pool.clear()
    raise AssertionError(f"GET {url} unexpectedly succeeded")


class Silent:
    """Accepts connections (the kernel completes the handshake) and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self):
        self.sock.close()


class TLSServer:
    """Completes TLS handshakes with a self-signed certificate for 127.0.0.1, then hangs up."""

    def __init__(self, folder: Path):
        self.cert, key = self_signed(folder)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                conn.close()

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    yield server
    server.close()


@pytest.fixture
def tls_server(tmp_path) -> Iterator[TLSServer]:
    server = TLSServer(tmp_path)
    yield server
    server.close()


def test_a_closed_port_is_connection_refused_not_a_timeout():
    host = f"http://127.0.0.1:{free_port()}"  # bound then released: nothing listens there
    assert _network_reason(failure(host + "/api"), host) == f"{host}: connection refused"


def test_an_unresolvable_name_is_no_such_host():
    host = "http://api.nosuch-cluster.invalid:6443"
    exc = failure(host + "/api")
    reason = _network_reason(exc, host)
    assert reason.startswith(f"{host}: ") and "api.nosuch-cluster.invalid" in reason
    assert "timed out" not in reason and "refused" not in reason
    gai = exc.__cause__
    if isinstance(gai, socket.gaierror) and gai.errno != socket.EAI_NONAME:
        assert "cannot resolve" in reason  # a resolver that did not answer is not "no such host"
    else:
        assert reason == f"{host}: no such host (api.nosuch-cluster.invalid does not resolve)"


def test_a_listener_that_never_answers_is_a_timeout(silent):
    assert _network_reason(failure(silent.url + "/api"), silent.url) == f"{silent.url}: timed out"


def test_an_untrusted_certificate_names_the_certificate_problem(tls_server):
    host = f"https://127.0.0.1:{tls_server.port}"
    reason = _network_reason(failure(host + "/api"), host)
    assert reason == f"{host}: TLS certificate not accepted: self-signed certificate"


def test_a_certificate_for_another_name_says_so(tls_server):
    host = f"https://localhost:{tls_server.port}"  # the certificate is for 127.0.0.1 only
    reason = _network_reason(failure(host + "/api", ca_certs=str(tls_server.cert)), host)
    assert reason.startswith(f"{host}: TLS certificate not accepted: Hostname mismatch")
    assert "'localhost'" in reason


def test_tls_to_a_plain_http_port_is_a_failed_handshake():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_in_plain_http():
        conn, _ = listener.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_in_plain_http, daemon=True)
    thread.start()
    host = f"https://127.0.0.1:{listener.getsockname()[1]}"
    try:
        reason = _network_reason(failure(host + "/api"), host)
    finally:
        thread.join(timeout=5)
        listener.close()
    assert reason.startswith(f"{host}: TLS handshake failed: ")
    assert "[SSL" not in reason and "_ssl.c" not in reason


# -- through the live source: the kubernetes client wraps some of these differently ---------

async def list_pods(host: str, ca_cert: str | None = None) -> str:
    cfg = client.Configuration()
    cfg.host = host
    cfg.retries = False  # as diagnostics.sources.factory configures every cluster
    if ca_cert:
        cfg.ssl_ca_cert = ca_cert
    source = LiveSource([LiveCluster(ClusterInfo("c1"), cfg)], request_timeout=TIMEOUT)
    try:
        with pytest.raises(SourceFailure) as exc:
            await source.list("c1", "pods", None)
    finally:
        await source.close()
    return str(exc.value)


async def test_live_source_reports_refused_and_timeout(silent):
    closed = f"http://127.0.0.1:{free_port()}"
    assert await list_pods(closed) == f"{closed}: connection refused"
    assert await list_pods(silent.url) == f"{silent.url}: timed out"


async def test_live_source_reports_a_tls_failure_instead_of_crashing(tls_server):
    """The client raises ApiException(status=0) for TLS errors; that is a read failure too."""
    host = f"https://127.0.0.1:{tls_server.port}"
    assert await list_pods(host) == f"{host}: TLS certificate not accepted: self-signed certificate"


async def test_an_api_server_that_never_answers_a_port_forward_is_a_timeout(silent):
    """A proxy in front of the API server that swallows WebSocket upgrades must not hold a
    thread of the source forever: the port-forward gives up after the request timeout."""
    cfg = client.Configuration()
    cfg.host, cfg.retries = silent.url, False
    source = LiveSource([LiveCluster(ClusterInfo("c1"), cfg)], request_timeout=TIMEOUT)
    try:
        with pytest.raises(SourceFailure) as exc:
            await source.istiod_get("c1", "istiod-abc", "/debug/syncz")
    finally:
        await source.close()
    assert "timed out" in str(exc.value)


async def _diagnose_with(kubeconfig: dict, path):
    path.write_text(yaml.safe_dump(kubeconfig))
    source = live_source(Config(), kubeconfig=str(path))
    try:
        return await diagnose(DEMO.request.plan(), source)
    finally:
        await source.close()


async def test_over_https_lists_and_port_forwards_verify_the_api_servers_ca(tmp_path):
    """Real API servers speak TLS: the replay over HTTPS, trusted only through the kubeconfig's
    certificate-authority-data, diagnoses like the snapshot (port-forwards over wss:// too);
    without that CA every read fails on the certificate instead."""
    cert, key = self_signed(tmp_path)
    servers = await start_replay(Snapshot.open(DEMO.snapshot_dir),
                                 tls=ReplayTLS(str(cert), str(key)))
    try:
        config = servers.kubeconfig()
        assert all(c["cluster"]["server"].startswith("https://") for c in config["clusters"])
        report = await _diagnose_with(config, tmp_path / "trusted")
        assert comparable(report) == comparable(await run_snapshot(DEMO))
        for c in config["clusters"]:
            del c["cluster"]["certificate-authority-data"]
        report = await _diagnose_with(config, tmp_path / "untrusted")
        assert report.errors and all("TLS certificate not accepted" in e.message
                                     for e in report.errors)
        # the CA as a file named relative to the kubeconfig, as kubectl resolves it: every
        # context loaded from one read of the file resolves it the same way
        (tmp_path / "kube").mkdir()
        (tmp_path / "kube" / "ca.crt").write_bytes(cert.read_bytes())
        for c in config["clusters"]:
            c["cluster"]["certificate-authority"] = "ca.crt"
        report = await _diagnose_with(config, tmp_path / "kube" / "config")
        assert comparable(report) == comparable(await run_snapshot(DEMO))
    finally:
        await servers.close()


@pytest.mark.parametrize("preloaded", [False, True])
def test_a_body_is_read_whole_whether_or_not_the_client_read_it_first(preloaded):
    """The body streams into one buffer (a chunked list is never held twice); a response the
    kubernetes client preloaded keeps its body in urllib3's cache and is read from there."""
    body = b'{"kind": "PodList", "items": []}' * 1000
    raw = urllib3.HTTPResponse(body=io.BytesIO(body), preload_content=preloaded, status=200)
    resp = client.rest.RESTResponse(raw)
    _read_body(resp)
    assert bytes(resp.data) == body
    empty = client.rest.RESTResponse(urllib3.HTTPResponse(body=io.BytesIO(b""),
                                                          preload_content=False, status=200))
    _read_body(empty)
    assert empty.data == b""
