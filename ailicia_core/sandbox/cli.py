"""The sandbox's command line: ``python -m ailicia_core sandbox`` and ``python -m ailicia_core.sandbox``."""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import threading
from typing import Any, Iterator, Sequence

from ..limits import GENERATION_WINDOW_S
from ..settings import is_loopback_host
from .config import (
    COUNTERS,
    DEFAULT_API_KEY,
    DEFAULT_CHANNEL,
    DEFAULT_CLI_PORT,
    DEFAULT_FOREIGN_CHANNEL,
    DEFAULT_JOIN_DELAY_S,
    FLAGS,
    RUNTIME_SWITCHES,
    SandboxConfig,
)
from .dashboard import DEFAULT_DASHBOARD_PORT, DENY_REASONS, Dashboard, DashboardConfig
from .dashboard import FAULTS as DASHBOARD_FAULTS
from .server import Sandbox


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's options to ``parser`` (their ``dest`` names match :class:`SandboxConfig`)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_CLI_PORT,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        metavar="KEY",
        help=f"an accepted API key; repeat for more (default: {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--channel",
        dest="channels",
        action="append",
        metavar="NAME",
        help=f"a channel the keys own; repeat for more (default: {DEFAULT_CHANNEL})",
    )
    parser.add_argument(
        "--foreign-channel",
        dest="foreign_channels",
        action="append",
        metavar="NAME",
        help=f"a channel that is someone else's (403); repeat for more (default: {DEFAULT_FOREIGN_CHANNEL})",
    )
    parser.add_argument(
        "--window",
        dest="generation_window_s",
        type=parse_seconds,
        default=GENERATION_WINDOW_S,
        metavar="SECONDS",
        help="one generation per this many seconds per key (default: %(default)g)",
    )
    parser.add_argument(
        "--join-delay",
        dest="join_delay_s",
        type=parse_seconds,
        default=DEFAULT_JOIN_DELAY_S,
        metavar="SECONDS",
        help="how long a join takes (default: %(default)g)",
    )
    parser.add_argument(
        "--delay", dest="delay_s", type=parse_seconds, default=0.0, metavar="SECONDS", help="delay before every answer"
    )
    parser.add_argument("--fail-first", type=_count, default=0, metavar="N", help="answer the next N requests with 503")
    parser.add_argument(
        "--drop-first", type=_count, default=0, metavar="N", help="close the next N connections without an answer"
    )
    parser.add_argument(
        "--join-timeouts", type=_count, default=0, metavar="N", help="the next N joins answer the timeout payload"
    )
    parser.add_argument("--join-always-times-out", action="store_true", help="every join answers the timeout payload")
    parser.add_argument(
        "--garbage-first", type=_count, default=0, metavar="N", help="answer the next N requests with 200 and HTML"
    )
    parser.add_argument("--no-credits", action="store_true", help="joins get 403 requiresSubscription")
    parser.add_argument("--no-retry-after", action="store_true", help="send 429 without a Retry-After header")
    parser.add_argument(
        "--record", dest="record_path", metavar="FILE", help="append every request to FILE (JSON lines)"
    )
    parser.add_argument("--quiet", action="store_true", help="do not print a line per request")
    add_dashboard_arguments(parser)


def add_dashboard_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dashboard`` also plays the ai_licia app's local WebSocket (Connect with ai_licia)."""
    group = parser.add_argument_group("the ai_licia app (Connect with ai_licia)")
    group.add_argument(
        "--dashboard",
        action="store_true",
        help="also serve the ai_licia app's local WebSocket, which grants the first API key and channel",
    )
    group.add_argument(
        "--dashboard-port",
        type=_port,
        default=DEFAULT_DASHBOARD_PORT,
        metavar="PORT",
        help="its port; 0 picks a free one (default: %(default)s, as the app)",
    )
    group.add_argument(
        "--dashboard-fault",
        choices=[f for f in DASHBOARD_FAULTS if f],
        default="",
        help="answer the request like a faulty app: deny, signed_out, rate_limited, no_answer, drop",
    )
    group.add_argument(
        "--deny-reason",
        choices=DENY_REASONS,
        default="user_denied",
        help="the reason --dashboard-fault deny gives (default: %(default)s)",
    )


def start_dashboard(args: argparse.Namespace, config: SandboxConfig) -> Dashboard | None:
    """The stand-in app that ``--dashboard`` asks for (started), or None."""
    if not getattr(args, "dashboard", False):
        return None
    return Dashboard(
        DashboardConfig(
            host=config.host,
            port=args.dashboard_port,
            api_key=config.api_keys[0],
            channel=config.channels[0],
            fault=args.dashboard_fault,
            deny_reason=args.deny_reason,
            quiet=config.quiet,
        )
    ).start()


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The :class:`SandboxConfig` that parsed :func:`add_arguments` options describe."""
    return SandboxConfig(
        host=args.host,
        port=args.port,
        api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
        channels=tuple(args.channels or (DEFAULT_CHANNEL,)),
        foreign_channels=tuple(args.foreign_channels or (DEFAULT_FOREIGN_CHANNEL,)),
        generation_window_s=args.generation_window_s,
        join_delay_s=args.join_delay_s,
        no_credits=args.no_credits,
        no_retry_after=args.no_retry_after,
        delay_s=args.delay_s,
        fail_first=args.fail_first,
        drop_first=args.drop_first,
        join_timeouts=args.join_timeouts,
        join_always_times_out=args.join_always_times_out,
        garbage_first=args.garbage_first,
        record_path=args.record_path,
        quiet=args.quiet,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C (SIGINT) or SIGTERM; 0 after a clean stop, 2 if it cannot start."""
    stop_requested = threading.Event()
    with _stop_on_signals(stop_requested):
        try:
            sandbox = Sandbox(config_from_args(args)).start()
        except (OSError, ValueError) as err:
            print(f"sandbox: cannot start on {args.host}:{args.port}: {err}", file=sys.stderr, flush=True)
            return 2
        try:
            dashboard = start_dashboard(args, sandbox.config)
        except (OSError, ValueError, ImportError) as err:
            sandbox.stop()
            print(
                f"sandbox: cannot serve the ai_licia app's WebSocket on port {args.dashboard_port}: {err}",
                file=sys.stderr,
                flush=True,
            )
            return 2
        try:
            print(_banner(sandbox), flush=True)
            warning = exposure_warning(args.host)
            if warning:
                print(warning, file=sys.stderr, flush=True)
            if dashboard is not None:
                print(
                    f"The ai_licia app (for Connect with ai_licia) listens on {dashboard.url}: in OBS, set "
                    f"'ai_licia app port' (Advanced) to {dashboard.port} if it is not 51743, then click "
                    "'Connect with ai_licia'.",
                    flush=True,
                )
            # A timed wait, because on Windows an untimed one never lets a signal handler run.
            while not stop_requested.wait(0.5):
                pass
        except KeyboardInterrupt:  # Ctrl+C when no handler could be installed
            pass
        finally:
            if dashboard is not None:
                dashboard.stop()
            sandbox.stop()
    print("sandbox stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ailicia_core.sandbox",
        description="A local stand-in for the ai_licia API: try your OBS setup without spending credits.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def exposure_warning(host: str) -> str:
    """A warning for a listening address other machines can reach; "" for a loopback one."""
    if is_loopback_host(host):
        return ""
    shown = host or "all addresses"
    return (
        f"WARNING: the sandbox listens on {shown}, which is not loopback: other machines on the network can "
        "reach it, use its API key and read what it records. Use --host 127.0.0.1 unless you mean to share it."
    )


def _banner(sandbox: Sandbox) -> str:
    config = sandbox.config
    faults = [
        f"{name}={getattr(config, name)}"
        for name in RUNTIME_SWITCHES
        if name in COUNTERS + FLAGS + ("delay_s",) and getattr(config, name)
    ]
    return "\n".join(
        [
            f"ai_licia sandbox listening on {sandbox.url}",
            *([exposure_warning(config.host)] if exposure_warning(config.host) else []),
            f"  API key:  {config.api_keys[0]}",
            f"  channel:  {', '.join(config.channels)} (someone else's: {', '.join(config.foreign_channels)})",
            f"  faults:   {', '.join(faults) if faults else 'none'}",
            "In OBS (Tools > Scripts > ailicia_obs.py): paste the API key and channel above,",
            f"then in the Advanced group set 'API address' to {sandbox.url}",
            "Press Ctrl+C to stop.",
        ]
    )


@contextlib.contextmanager
def _stop_on_signals(stop_requested: threading.Event) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set ``stop_requested``; the previous handlers return after.

    SIGINT gets a handler even if it was ignored (as for a background job), so that
    Ctrl+C or ``kill -INT`` always stops the sandbox. Signals can only be handled
    in the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: Any) -> None:
        stop_requested.set()

    names = [name for name in ("SIGINT", "SIGTERM") if hasattr(signal, name)]
    previous = {name: signal.signal(getattr(signal, name), request_stop) for name in names}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler if handler is not None else signal.SIG_DFL)


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def parse_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value
