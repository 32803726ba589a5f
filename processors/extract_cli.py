"""`marsad extract`: articles as JSON lines on stdin -> one JSON line per event on stdout.

Bad lines never stop the run: each gets one line on stderr with its line number and reason, and
the rest is processed. The exit code is 0 unless `--strict` is given and some lines were bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import TextIO

from pydantic import ValidationError

from processors.extract import Extractor, RejectedArticle
from processors.schemas import Article
from processors.settings import Settings

BATCH = 64


def parse_line(line: str, number: int) -> Article:
    """Return the Article of one input line; raise ValueError with a readable reason."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise ValueError("a line must be a JSON object")
    try:
        return Article.model_validate(record)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"invalid article ({problems})") from exc


def _batches(stream: TextIO, errors: TextIO, counts: dict[str, int]) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for number, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        counts["read"] += 1
        try:
            batch.append(parse_line(raw, number))
        except ValueError as exc:
            counts["bad"] += 1
            print(f"marsad extract: line {number}: {exc}", file=errors)
            continue
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def extract_stream(extractor: Extractor, stream: TextIO, out: TextIO, errors: TextIO,
                   include_non_actual: bool = True) -> dict[str, int]:
    """Extract every article of `stream` to `out`; return counts (read, bad, rejected, events)."""
    counts = {"read": 0, "bad": 0, "rejected": 0, "events": 0}
    for batch in _batches(stream, errors, counts):
        for article, result in zip(batch, extractor.extract_many(batch), strict=True):
            if isinstance(result, RejectedArticle):
                counts["rejected"] += 1
                print(f"marsad extract: article {article.id}: rejected ({result.reason}): {result}", file=errors)
                continue
            for event in result:
                if include_non_actual or event.realis == "actual":
                    out.write(event.model_dump_json(exclude_none=True) + "\n")
                    counts["events"] += 1
    return counts


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `marsad extract` on stdin/stdout."""
    extractor = Extractor.load(settings)
    stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    counts = extract_stream(extractor, stdin, sys.stdout, sys.stderr, args.include_non_actual)
    print("marsad extract: {read} articles read, {events} events, {bad} bad lines, {rejected} rejected"
          .format(**counts), file=sys.stderr)
    return 1 if args.strict and (counts["bad"] or counts["rejected"]) else 0
