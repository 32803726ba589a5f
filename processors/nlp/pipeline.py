"""Build the extraction pipeline of a language from its config file (nlp/ar.cfg, nlp/en.cfg)."""

from __future__ import annotations

from pathlib import Path

from spacy.language import Language
from spacy.util import load_config, load_model_from_config

import processors.nlp.components  # noqa: F401  (registers the marsad_* factories)

CONFIG_DIR = Path(__file__).resolve().parent


def build_nlp(lang: str, overrides: dict[str, object] | None = None) -> Language:
    """Return the pipeline for `lang` ("ar" or "en"), with optional dotted config overrides."""
    config = load_config(CONFIG_DIR / f"{lang}.cfg", overrides=overrides or {}, interpolate=True)
    return load_model_from_config(config, auto_fill=True, validate=True)
