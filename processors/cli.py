"""`marsad` command line: parse arguments, then call the module that does the work.

Each subcommand imports its module lazily, so `marsad extract` never loads faust and
`marsad --help` loads nothing heavy.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from processors.settings import load_settings

Builder = Callable[[argparse.ArgumentParser], None]


def _extract_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--include-non-actual", action=argparse.BooleanOptionalAction, default=True,
                   help="also print planned, negated and generic events (default: yes; their realis says so)")
    p.add_argument("--strict", action="store_true", help="exit with 1 when any line was malformed or rejected")


def _stack_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("up", "down", "status"), nargs="?", default="status",
                   help="up: start the broker and search server in the background (ports from "
                        "MARSAD_KAFKA_BOOTSTRAP / MARSAD_ELASTICSEARCH_URL); down: stop them; status")
    p.add_argument("--dir", default=".stack", help="pid files and logs (default: ./.stack)")


def _alerts_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="alerts_command", required=True)
    test = sub.add_parser("test", help="send a sample alert to every configured channel")
    test.add_argument("--channel", action="append", help="only this channel (repeatable)")
    listing = sub.add_parser("list", help="show recent alerts and their delivery status")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--status", choices=("pending", "delivered", "failed"))
    listing.add_argument("--json", action="store_true", help="one alert per line as JSON")
    retry = sub.add_parser("retry", help="retry failed, held and abandoned alerts once, now")
    retry.add_argument("--lease-s", type=float, default=600.0,
                       help="pending alerts older than this are taken as abandoned (default 600)")


def _ingest_args(p: argparse.ArgumentParser) -> None:
    # Defaults left as None are filled in by ingest itself (one source for them, no import here).
    p.add_argument("--file", action="append", metavar="F",
                   help=".jsonl, .json, .txt or .html file (repeatable)")
    p.add_argument("--dir", action="append", metavar="D", help="folder of such files, read recursively")
    p.add_argument("--feed", action="append", metavar="URL", help="RSS/Atom feed whose pages to fetch")
    p.add_argument("stdin", nargs="?", choices=["-"], help="read JSON lines from standard input")
    p.add_argument("--timeout", type=float, help="seconds per HTTP request (default 15)")
    p.add_argument("--max-bytes", type=int, help="largest page or feed fetched (default 5 MiB)")
    p.add_argument("--near-duplicate-threshold", type=float,
                   help="word-shingle similarity from which an article is marked a near duplicate "
                        "(default 0.7)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _worker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--loglevel", default="info", choices=("debug", "info", "warning", "error", "critical"),
                   help="log level of the worker (default: info)")


def _setup_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--deploy-dir", type=Path, default=None,
                   help="folder holding elasticsearch/ and kibana/ (default: the repository's deploy/)")
    p.add_argument("--migrate", action="store_true",
                   help="move aliases whose index was made from an older template to a new index "
                        "(rollover for events/articles, reindex for stories/alerts); stop the workers first")
    p.add_argument("--require-kibana", action="store_true",
                   help="exit with 1 when Kibana cannot be reached or refuses the objects (default: say so, exit 0)")
    p.add_argument("--skip-kibana", action="store_true", help="do not touch Kibana")


# name -> ("module:function" taking (args, settings) and returning an exit code, help, argument builder).
# Add a subcommand by writing its builder above and one line here.
def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default=".stack", help="local stack state and logs (default: ./.stack)")
    p.add_argument("--samples", default=None, help="folder of sample articles (default: the bundled samples/)")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the worker (default 180)")


COMMANDS: dict[str, tuple[str, str, Builder]] = {
    "demo": ("processors.demo:run", "the main job on the local stack: ingest the samples, process, print "
             "the events from the index", _demo_args),
    "extract": ("processors.extract_cli:run", "articles as JSON lines on stdin -> events as JSON lines",
                _extract_args),
    "alerts": ("processors.alerts_cli:run", "alert channels: send a test alert, list recent alerts, retry",
               _alerts_args),
    "ingest": ("ingest.__main__:run", "articles from files, stdin or feeds -> the articles topic",
               _ingest_args),
    "stack": ("processors.stack:run", "start, stop or check the local broker and search server", _stack_args),
    "worker": ("processors.agents:run_worker", "run a stream worker: extract, merge stories, index",
               _worker_args),
    "setup": ("processors.setup:run", "install index templates, indices, Kibana dashboards and the alert "
              "rule (idempotent)", _setup_args),
}


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="marsad", description="Streaming news-event monitor")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (target, help_text, builder) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        builder(p)
        p.set_defaults(_target=target)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `marsad` console script."""
    args = build_parser().parse_args(argv)
    module_name, func_name = args._target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"marsad: configuration error: {exc}", file=sys.stderr)
        return 2
    return int(func(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
