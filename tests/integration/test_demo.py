"""The README's main command: `marsad demo` runs the whole job on its own local stack."""

import os
import subprocess
import sys

import pytest

from processors.stack import free_port

pytestmark = pytest.mark.integration


def test_demo_processes_every_sample_and_prints_the_seed_events(tmp_path):
    env = dict(os.environ, MARSAD_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
               MARSAD_ELASTICSEARCH_URL=f"http://127.0.0.1:{free_port()}")
    state = tmp_path / "stack"
    try:
        result = subprocess.run([sys.executable, "-m", "processors.cli", "demo", "--dir", str(state)],
                                env=env, capture_output=True, text=True, timeout=400, check=False)
    finally:
        subprocess.run([sys.executable, "-m", "processors.cli", "stack", "down", "--dir", str(state)],
                       env=env, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "8 of 8 articles processed" in result.stderr
    text = result.stdout
    assert "agreement_signed    actual" in text and "United Kingdom (GB, signatory)" in text
    assert "Qatar (QA, signatory)" in text and "security=True" in text
    assert "Saudi Aramco (Saudi Aramco, target)" in text
    assert "Islamic State (Islamic State, target)" in text
