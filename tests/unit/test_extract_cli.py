"""`marsad extract` as a user runs it: JSON lines in, events out, bad lines reported by number."""

import json
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
MARSAD = [sys.executable, "-m", "processors.cli", "extract"]


def _run(stdin: bytes, *args):
    return subprocess.run([*MARSAD, *args], input=stdin, capture_output=True, timeout=120, check=False)


def test_extract_cli_processes_good_lines_and_reports_bad_ones():
    seed = (SAMPLES / "seed-article-ar.txt").read_text(encoding="utf-8")
    lines = [
        json.dumps({"id": "seed", "text": seed, "lang": "ar", "dataset": "seed", "extra": 1}),
        "{not json",
        json.dumps({"id": "no-text"}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "empty", "text": ""}),
        json.dumps({"id": "fr", "text": "Le gouvernement a signé un accord de sécurité avec le Qatar hier soir."}),
        "",
        json.dumps({"id": "en", "text": "Turkish jets carried out airstrikes against PKK positions in Iraq."}),
    ]
    result = _run(("\n".join(lines) + "\n").encode() + b"\xff\xfe broken bytes\n")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert {e["article_id"] for e in events} == {"seed", "en"}
    err = result.stderr.decode()
    assert "line 2: malformed JSON" in err
    assert "line 3: invalid article (text: Field required)" in err
    assert "line 4: a line must be a JSON object" in err
    assert "article empty: rejected (empty_text)" in err
    assert "article fr: rejected (unsupported_language)" in err
    assert "line 9: malformed JSON" in err
    assert "8 articles read" in err


def test_extract_cli_strict_exit_code_and_actual_only():
    line = json.dumps({"id": "p", "text": "Britain and Qatar will sign a security agreement next week."})
    result = _run((line + "\n{bad\n").encode(), "--strict", "--no-include-non-actual")
    assert result.returncode == 1
    assert result.stdout == b""


def test_extract_cli_output_fields():
    seed = (SAMPLES / "seed-article-ar.txt").read_text(encoding="utf-8")
    line = json.dumps({"id": "seed", "text": seed, "published_at": "2015-07-03"})
    result = _run((line + "\n").encode())
    event = json.loads(result.stdout.decode().splitlines()[0])
    for field in ("article_id", "event_type", "realis", "participants", "attributes", "evidence",
                  "confidence", "cameo", "plover", "event_date", "event_id", "language"):
        assert field in event, field
    assert {"sentence", "start", "end", "trigger"} <= set(event["evidence"])
