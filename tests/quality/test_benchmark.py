"""Extraction quality has a floor: the development benchmark (../shared/eval) must not regress.

Runs `marsad extract` over the dev split with the benchmark's own runner and scorer, then checks
every cell against tests/quality/floors.json (set just under the scores reached). Raise floors
with `python tools/quality_floors.py --raise`; lowering one needs `--lower --reason "..."`.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT.parent / "shared" / "eval"
FLOORS = json.loads((Path(__file__).with_name("floors.json")).read_text())

pytestmark = pytest.mark.quality


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    marsad = str(Path(sys.executable).with_name("marsad"))
    result = subprocess.run([str(EVAL / "run.sh"), "--out", str(out / "events.jsonl"), "--json-out",
                             str(out / "scores.json"), marsad, "extract"],
                            capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "scores.json").read_text())


def _cells(scores, section):
    cells = scores[section]["cells"]
    key = (lambda c: f"{c['dataset']}/{c['lang']}") if section == "security" else (
        lambda c: f"{c['dataset']}/{c['lang']}/{c['type']}")
    return {key(c): c for c in cells}


@pytest.mark.parametrize(("section", "metric"), [("detection", "f1"), ("participants", "f1"),
                                                 ("security", "accuracy")])
def test_benchmark_scores_stay_above_their_floors(scores, section, metric):
    cells = _cells(scores, section)
    below = {name: (round(cells[name][metric] or 0.0, 3), floor)
             for name, floor in FLOORS[section].items() if (cells[name][metric] or 0.0) < floor}
    assert not below, f"{section} {metric} below the floor (score, floor): {below}"


def test_benchmark_seed_article_is_perfect(scores):
    cells = _cells(scores, "detection")
    assert all(cells[f"seed/ar/{t}"]["f1"] == 1.0 for t in ("agreement_signed", "cyberattack", "military_operation"))
