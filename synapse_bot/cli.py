"""The `synapse-bot` command: run (default), gateway, worker, health, check, stats, shell, demo."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from synapse_bot.config import ConfigError, Settings, load_settings
from synapse_bot.logs import configure_logging
from synapse_bot.process_tuning import tune_for_serving
from synapse_bot.startup import QueueOutageLines, StartupCancelled, StartupError

log = logging.getLogger("synapse_bot.cli")


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        _print_config_error(exc)
        raise SystemExit(2) from None


def _print_config_error(exc: ConfigError) -> None:
    print("Synapse cannot start: the configuration has a problem.", file=sys.stderr)
    for problem in exc.problems:
        print(f"  - {problem}", file=sys.stderr)
    print("Set these in the environment or in a .env file (see .env.example).", file=sys.stderr)


def _serve(shape: str) -> int:
    from synapse_bot.runtime import Runtime

    settings = _settings_or_exit()
    configure_logging(settings.log_level, settings.log_format, settings.secrets())
    # urllib3's "Retrying (Retry(total=…))" lines (MLflow's and GitHub's HTTP clients) repeat, in its words, a
    # failure we report in ours; they stay visible at DEBUG.
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    queue_outage = QueueOutageLines()  # one plain line a minute, not two CRITICAL lines every 3 s
    for handler in logging.getLogger().handlers:
        handler.addFilter(queue_outage)
    runtime = Runtime(settings, shape=shape, outage_lines=queue_outage)

    def stop(signum: int, frame: FrameType | None) -> None:
        runtime.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        runtime.start()  # on failure it has already stopped whatever it started
    except ConfigError as exc:
        _print_config_error(exc)
        return 2
    except StartupCancelled:
        return 0
    except StartupError as exc:
        log.debug("start-up failed", exc_info=True)
        print(f"Synapse cannot start. {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a failure nobody phrased yet: still one line, the details at DEBUG
        log.debug("start-up failed", exc_info=True)
        print(
            f"Synapse cannot start: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            "(run with SYNAPSE_LOG_LEVEL=DEBUG for the details).",
            file=sys.stderr,
        )
        return 1
    tune_for_serving(shares_interpreter=runtime.shape.has_gateway and runtime.shape.has_worker)
    runtime.wait()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return _serve("run")


def cmd_gateway(args: argparse.Namespace) -> int:
    return _serve("gateway")


def cmd_worker(args: argparse.Namespace) -> int:
    return _serve("worker")


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the local process reports healthy (or degraded), 1 otherwise: for exec-style probes."""
    import json

    from synapse_bot.health import query

    url = args.url
    if not url:
        settings = _settings_or_exit()
        if not settings.health_port:
            print("No health endpoint: set SYNAPSE_HEALTH_PORT for the running process, or pass --url.")
            return 1
        url = f"http://127.0.0.1:{settings.health_port}/health"
    code, body = query(url, timeout_s=args.timeout)
    print(json.dumps({"http_status": code, **body}))
    return 0 if code == 200 else 1


def cmd_check(args: argparse.Namespace) -> int:
    from synapse_bot.check import run_checks

    settings = _settings_or_exit()
    configure_logging("WARNING", "text", settings.secrets())
    for noisy in ("urllib3", "slack_sdk", "mlflow", "github"):  # their retry chatter: the one-line result says it
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    results = run_checks(settings)
    width = max(len(r.part) for r in results)
    failed = False
    for result in results:
        mark = "ok  " if result.ok else ("FAIL" if result.required else "warn")
        failed = failed or (not result.ok and result.required)
        print(f"{mark}  {result.part:<{width}}  {result.detail}")
    return 1 if failed else 0


def cmd_stats(args: argparse.Namespace) -> int:
    from synapse_bot.tracking import stats

    settings = _settings_or_exit()
    configure_logging("WARNING", "text", settings.secrets())
    store = args.store or settings.tracking_uri
    collected = stats.collect(store, settings.mlflow_experiment_name, hours=args.hours)
    print(stats.render(collected, args.hours, store))
    return 0


SANDBOX_MISSING = (
    "synapse-bot {command} runs against the local Slack/OpenAI/GitHub stand-ins, which are not installed here "
    "({missing} is missing). Install them with: pip install 'synapse-bot[sandbox]' (make demo does this itself)."
)


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from synapse_bot.demo import run_demo
    except ModuleNotFoundError as exc:
        print(SANDBOX_MISSING.format(command="demo", missing=exc.name), file=sys.stderr)
        return 2
    return run_demo(verbose=args.verbose)


def cmd_shell(args: argparse.Namespace) -> int:
    try:
        from synapse_bot.shell import run_shell
    except ModuleNotFoundError as exc:
        print(SANDBOX_MISSING.format(command="shell", missing=exc.name), file=sys.stderr)
        return 2
    return run_shell()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synapse-bot", description="Synapse, the Slack assistant.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="connect to Slack (Socket Mode) and answer requests (default)").set_defaults(
        func=cmd_run
    )
    sub.add_parser(
        "gateway", help="Socket Mode only: acknowledge and queue requests for workers (needs REDIS_URL to share)"
    ).set_defaults(func=cmd_gateway)
    sub.add_parser("worker", help="jobs only: take requests from the Redis queue and answer them").set_defaults(
        func=cmd_worker
    )
    health = sub.add_parser("health", help="ask a running process's health endpoint (exit 0 when serving)")
    health.add_argument("--url", default="", help="default http://127.0.0.1:$SYNAPSE_HEALTH_PORT/health")
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(func=cmd_health)
    sub.add_parser(
        "check", help="validate configuration and reach Slack, Redis, MLflow, the model and GitHub"
    ).set_defaults(func=cmd_check)
    stats = sub.add_parser("stats", help="requests, latency, tokens, cost and errors by tool, from MLflow")
    stats.add_argument("--hours", type=float, default=24.0, help="how far back to look (default 24)")
    stats.add_argument(
        "--store",
        default="",
        metavar="URI",
        help="MLflow tracking URI to read, e.g. the demo's sqlite:///.synapse/demo/mlflow.db "
        "(default: MLFLOW_TRACKING_URI, else the data dir's store)",
    )
    stats.set_defaults(func=cmd_stats)
    sub.add_parser(
        "shell", help="talk to the bot from the terminal (local Slack sandbox; model from OPENAI_* if set)"
    ).set_defaults(func=cmd_shell)
    demo = sub.add_parser("demo", help="run the bot against a local Slack sandbox and print the conversation")
    demo.add_argument("--verbose", action="store_true", help="show the bot's logs too")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args(["run", *(argv or [])])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
