"""Starting and stopping the replay servers: async, on a background thread, and as the CLI.

`start_replay` is the one way servers come up; `ReplayThread` wraps it for synchronous callers
(tests driving kubectl subprocesses, the sync kubernetes client) with its own event loop, and
`run_replay_cli` is `meshbot replay`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from diagnostics.debug_auth import DebugCaller
from diagnostics.kinds import resolve_user_kind
from diagnostics.replay.apiserver import build_app
from diagnostics.replay.kubeconfig import (build_kubeconfig, dump_kubeconfig,
                                           parse_context_names, write_kubeconfig)
from diagnostics.replay.stats import ReplayStats
from diagnostics.snapshot import Snapshot, SnapshotError

access_log = logging.getLogger("meshbot.replay.access")
_SHUTDOWN_TIMEOUT = 1.0
_WILDCARDS = ("", "0.0.0.0", "::")


class _DebugAccessLogger(AbstractAccessLogger):
    """aiohttp's access log at DEBUG: quiet unless someone asks for it."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug("%s %s %s -> %d (%.1f ms)", request.host, request.method,
                          request.path_qs, response.status, time * 1000)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)


@dataclass(frozen=True)
class ReplayTLS:
    """Serve HTTPS with this certificate and key; the certificate (valid for the host) is also
    the kubeconfig's certificate authority, so clients verify the servers as real ones."""

    cert_file: str
    key_file: str

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def ca_pem(self) -> bytes:
        with open(self.cert_file, "rb") as f:
            return f.read()


class ReplayServers:
    """Running replay servers, one per snapshot cluster."""

    def __init__(self, runners: dict[str, web.AppRunner], urls: dict[str, str],
                 stats: ReplayStats, ca_pem: bytes | None = None):
        self._runners = runners
        self._urls = urls
        self.stats = stats
        self._ca_pem = ca_pem
        self.contexts: dict[str, str] = {}  # cluster id -> context name, where renamed

    @property
    def urls(self) -> dict[str, str]:
        """`{cluster id: "http://127.0.0.1:<port>"}` in snapshot order."""
        return dict(self._urls)

    def kubeconfig(self) -> dict:
        return build_kubeconfig(self._urls, self._ca_pem, self.contexts)

    async def close(self) -> None:
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()


def _url(host: str, port: int, scheme: str = "http") -> str:
    shown = "127.0.0.1" if host in _WILDCARDS else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}"


async def start_replay(snapshot: Snapshot, *, host: str = "127.0.0.1", port: int = 0,
                       latency_ms: float = 0, tls: ReplayTLS | None = None,
                       contexts: dict[str, str] | None = None,
                       debug_caller: DebugCaller | None = None,
                       stats: ReplayStats | None = None,
                       managed_fields: bool = False) -> ReplayServers:
    """Serve every cluster of `snapshot` on its own port: ephemeral with port=0, else
    port, port+1, ... in snapshot order. Nothing is left listening if one fails to bind.
    `contexts` names some clusters' kubeconfig contexts unlike their ids; `debug_caller` is who
    istiod's debug endpoints see calling (default: loopback, as a real port-forward);
    `managed_fields` serves pods with the managedFields a real API server keeps."""
    context = tls.context() if tls else None
    stats = stats or ReplayStats()
    runners: dict[str, web.AppRunner] = {}
    urls: dict[str, str] = {}
    try:
        for i, (name, cluster) in enumerate(snapshot.clusters.items()):
            app = build_app(cluster, captured_at=snapshot.captured_at, latency_ms=latency_ms,
                            stats=stats, debug_caller=debug_caller,
                            managed_fields=managed_fields)
            runner = web.AppRunner(app, access_log_class=_DebugAccessLogger,
                                   access_log=access_log, shutdown_timeout=_SHUTDOWN_TIMEOUT)
            await runner.setup()
            runners[name] = runner
            await web.TCPSite(runner, host, port + i if port else 0,
                              ssl_context=context).start()
            urls[name] = _url(host, runner.addresses[0][1], "https" if tls else "http")
    except BaseException:
        for runner in runners.values():
            await runner.cleanup()
        raise
    servers = ReplayServers(runners, urls, stats, tls.ca_pem() if tls else None)
    servers.contexts = dict(contexts or {})
    return servers


def _as_snapshot(snapshot: Snapshot | str | Path) -> Snapshot:
    return snapshot if isinstance(snapshot, Snapshot) else Snapshot.open(snapshot)


class ReplayThread:
    """`start_replay` on a background thread with its own event loop, as a context manager."""

    def __init__(self, snapshot: Snapshot | str | Path, *, host: str = "127.0.0.1",
                 port: int = 0, latency_ms: float = 0, contexts: dict[str, str] | None = None,
                 debug_caller: DebugCaller | None = None, managed_fields: bool = False):
        self._snapshot = _as_snapshot(snapshot)
        self._options = {"host": host, "port": port, "latency_ms": latency_ms,
                         "contexts": contexts, "debug_caller": debug_caller,
                         "managed_fields": managed_fields}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="meshbot-replay", daemon=True)
        self._ready = threading.Event()
        self._servers: ReplayServers | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._servers = loop.run_until_complete(start_replay(self._snapshot, **self._options))
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            self._error = exc
        self._ready.set()
        try:
            if self._servers is not None:
                loop.run_forever()
                loop.run_until_complete(self._servers.close())
        finally:
            loop.close()

    def start(self) -> ReplayThread:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Close the servers (open connections get a second to finish) and join the thread."""
        if self._thread.is_alive() and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()

    def __enter__(self) -> ReplayThread:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def servers(self) -> ReplayServers:
        if self._servers is None:
            raise RuntimeError("replay thread is not running")
        return self._servers

    @property
    def urls(self) -> dict[str, str]:
        return self.servers.urls

    @property
    def stats(self) -> ReplayStats:
        return self.servers.stats

    def kubeconfig(self) -> dict:
        return self.servers.kubeconfig()

    def write_kubeconfig(self, path: str | Path) -> Path:
        return write_kubeconfig(self.kubeconfig(), path)


def run_replay_cli(snapshot_path: str, *, port: int, latency_ms: float,
                   kubeconfig_out: str | None, host: str, tls: ReplayTLS | None = None,
                   context_names: list[str] | None = None,
                   debug_caller: DebugCaller | None = None,
                   request_log: str | None = None, withhold: list[str] | None = None,
                   managed_fields: bool = False) -> int:
    """`meshbot replay`: 2 when the snapshot or the TLS files cannot be read, a context name
    or a withheld kind is malformed, a port is taken or the request log cannot be written,
    else serve until SIGINT/SIGTERM and return 0."""
    try:
        snapshot = Snapshot.open(snapshot_path)
        contexts = parse_context_names(context_names or [], snapshot.cluster_names)
        withhold_kinds(snapshot, withhold or [])
    except (SnapshotError, ValueError) as exc:
        print(f"meshbot replay: {exc}", file=sys.stderr)
        return 2
    if tls is not None:
        try:
            tls.context()
        except (OSError, ssl.SSLError) as exc:
            print(f"meshbot replay: cannot use --tls-cert/--tls-key: {exc}", file=sys.stderr)
            return 2
    try:
        log = open(request_log, "a", encoding="utf-8", buffering=1) if request_log else None
    except OSError as exc:
        print(f"meshbot replay: cannot write --request-log: {exc}", file=sys.stderr)
        return 2
    # one JSON line per request, written as it completes (line-buffered): a benchmark in
    # another process reads what its diagnosis asked
    stats = ReplayStats(keep=False, sink=(lambda r: log.write(r.as_json() + "\n")) if log else None)
    try:
        return asyncio.run(_serve(snapshot, port=port, latency_ms=latency_ms,
                                  kubeconfig_out=kubeconfig_out, host=host, tls=tls,
                                  contexts=contexts, debug_caller=debug_caller, stats=stats,
                                  managed_fields=managed_fields))
    finally:
        if log is not None:
            log.close()


def withhold_kinds(snapshot: Snapshot, kinds: list[str]) -> None:
    """Refuse these kinds in every cluster (403, in the API server's words) as an install
    whose RBAC does not grant them would be: `--withhold secrets` is the install without
    Secret reads (deploy/overlays/no-secrets) on any snapshot."""
    for word in kinds:
        kind = resolve_user_kind(word)
        if kind is None:
            raise ValueError(f"--withhold {word}: not a kind meshbot reads (for example secrets)")
        for cluster in snapshot.clusters.values():
            cluster.withheld.setdefault(kind.key, "")


async def _serve(snapshot: Snapshot, *, port: int, latency_ms: float,
                 kubeconfig_out: str | None, host: str, tls: ReplayTLS | None,
                 contexts: dict[str, str], stats: ReplayStats,
                 debug_caller: DebugCaller | None = None, managed_fields: bool = False) -> int:
    try:
        servers = await start_replay(snapshot, host=host, port=port, latency_ms=latency_ms,
                                     tls=tls, contexts=contexts, debug_caller=debug_caller,
                                     stats=stats, managed_fields=managed_fields)
    except OSError as exc:
        print(f"meshbot replay: cannot listen on {host}:{port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    _announce(servers, kubeconfig_out)  # after the handlers: a reader may signal right away
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await servers.close()
    return 0


def _announce(servers: ReplayServers, kubeconfig_out: str | None) -> None:
    """The kubeconfig on stdout, or written to a file with one `<cluster> <url>` line each."""
    if kubeconfig_out:
        write_kubeconfig(servers.kubeconfig(), kubeconfig_out)
        for name, url in servers.urls.items():
            renamed = f" (context {servers.contexts[name]})" if name in servers.contexts else ""
            print(f"{name} {url}{renamed}")
    else:
        sys.stdout.write(dump_kubeconfig(servers.kubeconfig()))
    sys.stdout.flush()
    print(f"meshbot replay: serving {len(servers.urls)} cluster(s), read-only; "
          f"Ctrl-C to stop", file=sys.stderr)
