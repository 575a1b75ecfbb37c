"""What one diagnosis of a big mesh costs: CPU, peak memory, API calls and dependent round trips.

Generates multicluster meshes with the scenario generator (tests/meshgen/scale.py: helloworld
pods per cluster, `--stale` of them out of sync so proxy-status has offenders), serves each with
`meshbot replay --request-log`, and runs every mesh-wide command as a user would, each time in a
fresh process: `meshbot mesh <command> --kubeconfig <replay kubeconfig> -o json --no-cache`.

Per command and size, the median of `--runs`:
- cpu_s, rss_peak_mb: user+sys CPU and peak RSS of that process (os.wait4), imports included
  (from bytecode, as an installed meshbot imports: see compile_bytecode);
- api_calls, bytes: requests the replay servers answered during the run, and their body bytes;
- dependent_rounds: the longest chain of those requests each of which arrived only after the
  previous one's answer was complete (diagnostics/replay/stats.py). `--latency-ms` (default
  1000) delays every answer, so requests sent together are not mistaken for a chain when the
  client is slow to send them (a busy client can still lengthen the chain: an upper bound).
  300 ms was not enough at ten clusters: the client's 3 s of CPU (ten clusters' lists decoded
  on two cores) sent one cluster's istiod log up to 0.7 s after the istiod pod list it needs
  had arrived, later than another cluster's log had been answered, and why-local-only's
  chain read 4-5 where the requests' own dependencies are 2 deep (what 1000 ms shows);
- verdict, and wall_s (an upper bound on a loaded machine).

The replay serves pods with the managedFields a real API server keeps on them (`meshbot replay
--managed-fields`; snapshots hold none): without them every list of pods would be lighter than
a real cluster's, a metadata-only one five times lighter. `--no-managed-fields` measures
without. `--tls` serves HTTPS with a self-signed RSA 2048 certificate, as real API servers
serve: each connection the diagnosis opens (one per request it has in flight to a cluster)
then costs a handshake.

    .venv/bin/python bench/mesh_scale.py [--pods 2000 10000 20000] [--point 2000x10] [--json]
        [--runs 3] [--meshes DIR] [--client-root DIR] [--commands ...]

`--meshes DIR` keeps generated meshes for the next run; `--client-root DIR` runs the meshbot of
another checkout (e.g. the commit before a change) against the same meshes and servers.
`--python PATH` runs the diagnosing process with another interpreter: an installed meshbot's
environment has its runtime dependencies only, where the test virtualenv also holds
kubernetes-validate and its jsonschema, which the kubernetes package imports when they are
there (kubernetes.dynamic): 0.05-0.09 s more of every diagnosis' imports. To measure what an
install runs (the checkout's code, PYTHONPATH first, over the locked dependencies):

    python3 -m venv /tmp/rt && /tmp/rt/bin/pip install -c requirements.lock .
    .venv/bin/python bench/mesh_scale.py --python /tmp/rt/bin/python ...
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from diagnostics.replay.stats import RequestRecord, dependent_rounds  # noqa: E402

COMMANDS = ["why-local-only helloworld -n sample", "proxy-status", "check ns/sample", "digest",
            "control-plane", "remote-clusters", "trust"]
#: Settings that would make `meshbot mesh` read something other than the replayed clusters.
_ISOLATE = ("MESHBOT_SNAPSHOT", "MESHBOT_CONFIG", "REDIS_URL", "KUBECONFIG")


@dataclass(frozen=True)
class Point:
    pods: int
    clusters: int

    @property
    def name(self) -> str:
        return f"{self.pods}x{self.clusters}"


def parse_point(text: str) -> Point:
    pods, _, clusters = text.partition("x")
    return Point(int(pods), int(clusters or 2))


def mesh_dir(point: Point, stale: float, keep: Path | None, tmp: Path) -> tuple[Path, float]:
    """The generated snapshot for `point` (reused from `keep` when already there) and the
    seconds generating it took (0 when reused).

    Generated in a child process: a child's peak RSS as wait4 reports it includes what its
    parent held when it forked, so this process must stay small."""
    base = keep if keep is not None else tmp
    out = base / f"mesh-{point.name}-stale{stale:g}"
    if (out / "snapshot.yaml").exists():
        return out, 0.0
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--generate", str(point.pods), str(point.clusters),
                    str(stale), str(out)], cwd=REPO, check=True)
    return out, time.perf_counter() - started


def generate(pods: int, clusters: int, stale: float, out: Path) -> None:
    from tests.meshgen.render import write_snapshot
    from tests.meshgen.scale import scaled_mesh

    write_snapshot(scaled_mesh(pods, stale, clusters), out)


class Replay:
    """`meshbot replay` in its own process, recording every request to a file."""

    def __init__(self, snapshot: Path, workdir: Path, latency_ms: float,
                 managed_fields: bool = True, tls: bool = False):
        self.kubeconfig = workdir / "kubeconfig"
        self.log = workdir / "requests.jsonl"
        self.log.write_text("")
        https = [f"--tls-{part}={path}" for part, path in
                 zip(("cert", "key"), server_certificate(workdir))] if tls else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "replay", str(snapshot), "--latency-ms",
             str(latency_ms), "--kubeconfig-out", str(self.kubeconfig), "--request-log",
             str(self.log), *(["--managed-fields"] if managed_fields else []), *https],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def wait_ready(self, clusters: int) -> None:
        for _ in range(clusters):
            if not self.proc.stdout.readline():
                raise RuntimeError("meshbot replay exited before serving")

    def offset(self) -> int:
        return self.log.stat().st_size

    def records_since(self, offset: int) -> list[RequestRecord]:
        with self.log.open(encoding="utf-8") as fh:
            fh.seek(offset)
            return [RequestRecord.from_json(line) for line in fh if line.strip()]

    def stop(self) -> None:
        self.proc.terminate()  # it may be busy answering a large list for a while
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def server_certificate(workdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, RSA 2048 as kubeadm issues the
    API server's by default: the client then pays a TLS handshake for every connection it
    opens, as it does against a real API server (a diagnosis opens one per request it has in
    flight to a cluster)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.redis_support import self_signed

    return self_signed(workdir, rsa.generate_private_key(public_exponent=65537, key_size=2048))


#: meshbot's own packages, compiled to bytecode before measuring (see compile_bytecode).
PACKAGES = ("bot", "diagnostics", "handlers")


def compile_bytecode(client_root: Path) -> None:
    """Bytecode for the measured checkout's modules, as an installed meshbot has it (pip
    compiles a wheel's modules when it installs them; the image installs the wheel). A source
    checkout run with PYTHONDONTWRITEBYTECODE=1, as this project's shells are, would otherwise
    compile every module in every measured process: about 0.1 s of CPU that no user pays."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=client_root,
                   check=True, stdout=subprocess.DEVNULL)


def run_once(replay: Replay, client_root: Path, command: str, timeout: float,
             python: str = sys.executable) -> dict:
    """One diagnosis in a fresh process; its own CPU and peak RSS from wait4."""
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATE}
    env["PYTHONPATH"] = str(client_root)
    offset = replay.offset()
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen([python, "-m", "bot.cli", "mesh", *command.split(),
                                 "--kubeconfig", str(replay.kubeconfig), "-o", "json",
                                 "--no-cache", "--timeout", str(timeout)],
                                cwd=client_root, env=env, stdout=out,
                                stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        raw = out.read()
    time.sleep(0.05)  # the replay's last lines reach its log file
    records = replay.records_since(offset)
    try:
        verdict = json.loads(raw)["verdict"]
    except (ValueError, KeyError):
        verdict = f"exit {proc.returncode}, no report"
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "rss_peak_mb": usage.ru_maxrss / 1024,
            "wall_s": wall, "api_calls": len(records),
            "bytes": sum(r.bytes for r in records),
            "dependent_rounds": dependent_rounds(records), "verdict": verdict}


def measure(replay: Replay, args: argparse.Namespace, point: Point, command: str) -> dict:
    results = [run_once(replay, args.client_root, command, args.timeout, args.python)
               for _ in range(args.runs)]
    row = {"command": command, "pods": point.pods, "clusters": point.clusters, "tls": args.tls}
    for key in ("cpu_s", "rss_peak_mb", "wall_s", "api_calls", "bytes", "dependent_rounds"):
        value = statistics.median(r[key] for r in results)
        row[key] = round(value, 3) if isinstance(value, float) else value
    verdicts = sorted({r["verdict"] for r in results})
    row["verdict"] = verdicts[0] if len(verdicts) == 1 else "/".join(verdicts)
    return row


def print_row(row: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(row), flush=True)
        return
    print(f"  {row['command']:38} {row['cpu_s']:6.2f} {row['rss_peak_mb']:7.0f} "
          f"{row['api_calls']:5d} {row['dependent_rounds']:6d} {row['bytes'] / 2**20:7.1f} "
          f"{row['wall_s']:6.2f}  {row['verdict']}", flush=True)


@contextmanager
def served_mesh(point: Point, stale: float, meshes: Path | None, latency_ms: float,
                managed_fields: bool = True, tls: bool = False) -> Iterator[tuple[Replay, float]]:
    """The generated mesh served by `meshbot replay` for the block: (the replay, seconds the
    generation took)."""
    with tempfile.TemporaryDirectory() as tmp:
        snapshot, generated = mesh_dir(point, stale, meshes, Path(tmp))
        replay = Replay(snapshot, Path(tmp), latency_ms, managed_fields, tls)
        try:
            replay.wait_ready(point.clusters)
            yield replay, generated
        finally:
            replay.stop()


def run_point(point: Point, args: argparse.Namespace) -> None:
    with served_mesh(point, args.stale, args.meshes, args.latency_ms,
                     args.managed_fields, args.tls) as (replay, generated):
        if not args.json:
            print(f"\n{point.pods} helloworld pods per cluster, {point.clusters} clusters, "
                  f"{args.stale:.0%} stale (mesh generated in {generated:.1f} s)")
            print(f"  {'command':38} {'cpu s':>6} {'rss MB':>7} {'calls':>5} {'rounds':>6} "
                  f"{'MB read':>7} {'wall s':>6}  verdict")
        elif generated:
            print(json.dumps({"generated": point.name, "seconds": round(generated, 1)}),
                  file=sys.stderr)
        for command in args.commands:
            print_row(measure(replay, args, point, command), args.json)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, nargs="*", default=[2000, 10000, 20000],
                    help="helloworld pods per cluster, one two-cluster mesh each")
    ap.add_argument("--point", type=parse_point, action="append", default=None,
                    metavar="PODSxCLUSTERS", help="another mesh (default: 2000x10)")
    ap.add_argument("--commands", nargs="+", default=COMMANDS)
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per command (median)")
    ap.add_argument("--stale", type=float, default=0.1, help="share of pods out of sync")
    ap.add_argument("--latency-ms", type=float, default=1000.0)
    ap.add_argument("--no-managed-fields", dest="managed_fields", action="store_false",
                    help="serve pods without the managedFields real API servers add")
    ap.add_argument("--tls", action="store_true",
                    help="serve HTTPS, as every real API server does: each connection the "
                         "diagnosis opens then costs it a TLS handshake")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="meshbot's per-cluster deadline: a loaded machine must not turn the "
                    "figures into those of a timed-out, inconclusive diagnosis")
    ap.add_argument("--meshes", type=Path, help="keep generated meshes here and reuse them")
    ap.add_argument("--client-root", type=Path, default=REPO,
                    help="the checkout whose meshbot is measured (default: this one)")
    ap.add_argument("--python", default=sys.executable,
                    help="the diagnosing process' interpreter (default: this one)")
    ap.add_argument("--json", action="store_true", help="one JSON object per command and size")
    ap.add_argument("--generate", nargs=4, help=argparse.SUPPRESS)  # the generating child
    args = ap.parse_args()
    if args.generate:
        pods, clusters, stale, out = args.generate
        generate(int(pods), int(clusters), float(stale), Path(out))
        return
    points = [Point(p, 2) for p in args.pods] + (args.point if args.point is not None
                                                   else [Point(2000, 10)])
    if args.meshes:
        args.meshes.mkdir(parents=True, exist_ok=True)
    compile_bytecode(args.client_root)
    for point in points:
        run_point(point, args)


if __name__ == "__main__":
    main()
