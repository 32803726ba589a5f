"""Extraction speed and memory, single process: pipeline load time, then articles/s and peak RSS
for seed-sized Arabic articles and for English news articles (the bundled samples).

    .venv/bin/python benchmarks/extract_bench.py [--seconds 10] [--samples ../shared/samples]

Targets (issue 2): load < 3 s; >= 300 articles/s for each language on one core (goal 1,000).
Figures are printed, not asserted: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from processors.extract import Extractor
from processors.schemas import Article

DEFAULT_SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"


def _articles(samples: Path) -> dict[str, list[Article]]:
    seed = (samples / "seed-article-ar.txt").read_text(encoding="utf-8")
    english = [json.loads(line) for line in (samples / "voa-articles-en.jsonl").read_text().splitlines() if line]
    return {
        "ar (seed article)": [Article(id=f"seed-{i}", text=seed, language="ar") for i in range(64)],
        "en (VOA articles)": [Article(id=f"voa-{i}", text=r["text"], title=r.get("title"), language="en")
                              for i, r in enumerate(english * 10)],
    }


def _rate(extractor: Extractor, articles: list[Article], seconds: float) -> tuple[float, int, int]:
    done = events = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for result in extractor.extract_many(articles):
            events += len(result) if isinstance(result, list) else 0
        done += len(articles)
    return done / (time.perf_counter() - start), done, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    args = parser.parse_args()
    start = time.perf_counter()
    extractor = Extractor.load()
    print(f"pipeline load: {time.perf_counter() - start:.2f} s (both languages)")
    for name, articles in _articles(args.samples).items():
        chars = sum(len(a.text) for a in articles) / len(articles)
        rate, done, events = _rate(extractor, articles, args.seconds)
        print(f"{name}: {rate:,.0f} articles/s ({done} articles of {chars:,.0f} chars on average, "
              f"{events / max(done, 1):.1f} events each)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
