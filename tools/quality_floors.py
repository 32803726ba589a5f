"""Set the quality floors (tests/quality/floors.json) from a benchmark score file.

    ../shared/eval/run.sh --json-out /tmp/scores.json .venv/bin/marsad extract
    python tools/quality_floors.py /tmp/scores.json --raise          # only ever raises floors
    python tools/quality_floors.py /tmp/scores.json --lower --reason "why"   # may lower them

A floor sits MARGIN under the score reached, so that noise-free code changes pass and real
regressions fail.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

FLOORS = Path(__file__).resolve().parents[1] / "tests" / "quality" / "floors.json"
MARGIN = 0.02
METRICS = {"detection": "f1", "participants": "f1", "security": "accuracy"}


def floors_from(scores: dict) -> dict[str, dict[str, float]]:
    """Return the floors MARGIN under every scored cell (cells without support are left out)."""
    result: dict[str, dict[str, float]] = {}
    for section, metric in METRICS.items():
        result[section] = {}
        for cell in scores[section]["cells"]:
            name = f"{cell['dataset']}/{cell['lang']}" + ("" if section == "security" else f"/{cell['type']}")
            value = cell.get(metric)
            if value is None or (section == "detection" and not cell.get("support")):
                continue
            result[section][name] = max(0.0, round(value - MARGIN, 2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", type=Path)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--raise", dest="raise_only", action="store_true")
    mode.add_argument("--lower", action="store_true")
    parser.add_argument("--reason", default="")
    args = parser.parse_args()
    if args.lower and not args.reason.strip():
        parser.error("lowering a floor needs --reason")
    new = floors_from(json.loads(args.scores.read_text()))
    old = json.loads(FLOORS.read_text()) if FLOORS.exists() else {}
    for section, cells in new.items():
        for name, floor in cells.items():
            kept = old.get(section, {}).get(name)
            if args.raise_only and kept is not None:
                cells[name] = max(kept, floor)
    if args.lower:
        new["lowered_because"] = args.reason
    FLOORS.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
    print(f"wrote {FLOORS}")


if __name__ == "__main__":
    main()
