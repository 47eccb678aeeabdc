"""The command line of the local AQT server (``qdispatch-aqt-server``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from qdispatch_aqt.testing.server.app import AQTServer
from qdispatch_aqt.testing.server.faults import ENDPOINTS, Faults


def _client(text: str) -> tuple[str, str]:
    client_id, sep, secret = text.partition(":")
    if not sep or not client_id or not secret:
        raise argparse.ArgumentTypeError("give a client as ID:SECRET")
    return client_id, secret


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("a rate is a probability in [0, 1]")
    return value


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of the server command."""
    p = argparse.ArgumentParser(
        prog="qdispatch-aqt-server",
        description="Serve AQT's Arnica API v1 on 127.0.0.1, running circuits on Aer.",
    )
    p.add_argument("--port", type=int, default=8042, help="TCP port (0: any free port; default 8042)")
    p.add_argument("--token", action="append", help="accept this bearer token (repeat; default: any token)")
    p.add_argument(
        "--client",
        action="append",
        type=_client,
        metavar="ID:SECRET",
        help="allow this OIDC client to log in (client credentials; repeat)",
    )
    p.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds an issued token is valid")
    p.add_argument("--workspace", default="default", help="the workspace id (default: default)")
    p.add_argument("--workers", type=int, default=1, help="jobs run at the same time")
    p.add_argument("--queue-delay", type=float, default=0.0, help="seconds each job stays queued")
    p.add_argument("--queue-jitter", type=float, default=0.0, help="random extra queue delay, up to this")
    p.add_argument("--circuit-time", type=float, default=0.0, help="extra seconds per circuit")
    p.add_argument("--seed", type=int, help="seed the simulations and the fault dice")
    p.add_argument("--error-rate", type=_rate, default=0.0, help="probability of an HTTP 500 answer")
    p.add_argument("--drop-rate", type=_rate, default=0.0, help="probability of a dropped connection")
    p.add_argument("--slow-rate", type=_rate, default=0.0, help="probability of a slow answer")
    p.add_argument("--slow-seconds", type=float, default=1.0, help="how slow a slow answer is")
    p.add_argument("--fail-rate", type=_rate, default=0.0, help="probability that a job ends in error")
    p.add_argument(
        "--fault-endpoints",
        default="result",
        help=f"comma-separated endpoints network faults hit (of {', '.join(ENDPOINTS)})",
    )
    p.add_argument("--no-cancel", action="store_true", help="answer 405 to cancel requests")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    """Run the server until interrupted (Ctrl-C or SIGTERM)."""
    args = parser().parse_args(argv)
    try:
        faults = Faults(
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_seconds,
            fail_rate=args.fail_rate,
            seed=args.seed,
            endpoints=frozenset(e.strip() for e in args.fault_endpoints.split(",") if e.strip()),
        )
        server = AQTServer(
            args.port,
            tokens=args.token,
            workspace=args.workspace,
            faults=faults,
            workers=args.workers,
            queue_delay=args.queue_delay,
            queue_jitter=args.queue_jitter,
            circuit_time=args.circuit_time,
            seed=args.seed,
            clients=dict(args.client) if args.client else None,
            token_lifetime=args.token_lifetime,
            cancel_supported=not args.no_cancel,
        )
    except (ValueError, OSError) as exc:
        sys.exit(f"qdispatch-aqt-server: {exc}")
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with server:
        print(f"AQT-compatible server listening on {server.url}", flush=True)
        print(f"  use it with: AQT_ARNICA_URL={server.url} AQT_TOKEN=<any token>", flush=True)
        print(f"  workspace {server.workspace!r}, resources: {', '.join(server.resources)}", flush=True)
        stop.wait()
    print("stopped", flush=True)
