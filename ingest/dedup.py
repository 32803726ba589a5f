"""Duplicates within one ingest run: exact ones are dropped, near ones are marked.

An exact duplicate has an id or a normalised-text hash already seen. A near duplicate (the same
wire story re-published by another outlet with its own header, footer or a changed sentence) is
still sent, with `near_duplicate_of` naming the first article of its family, so downstream counts
it as one event. MinHash LSH over word shingles finds candidates; the estimated Jaccard confirms.
The state lives in one Deduplicator per run, never in the module.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Literal

from datasketch import MinHash, MinHashLSH

from ingest.article import normalised_text, text_hash
from processors.schemas import Article

Verdict = Literal["new", "duplicate", "near_duplicate"]


@dataclass(frozen=True)
class DedupOptions:
    """How alike two texts must be to count as the same story."""

    threshold: float = 0.7  # estimated Jaccard similarity of word shingles
    num_perm: int = 128
    shingle_words: int = 3
    # Texts this short give too few shingles for a meaningful similarity: exact checks only.
    min_shingles: int = 10


@dataclass
class Deduplicator:
    """Remembers the articles of one run; `check` says whether a new one was seen before."""

    options: DedupOptions = field(default_factory=DedupOptions)
    ids: set[str] = field(default_factory=set)
    hashes: dict[str, str] = field(default_factory=dict)  # text hash -> article id
    arrival: dict[str, int] = field(default_factory=dict)  # first article of a family -> its position
    signatures: dict[str, MinHash] = field(default_factory=dict)
    lsh: MinHashLSH | None = None
    _template: MinHash | None = None  # holds the permutations, drawn once rather than per article

    def __post_init__(self) -> None:
        if self.lsh is None:
            # LSH banding misses pairs just above its threshold; a lower one finds them as
            # candidates, and the estimated Jaccard then applies the real threshold.
            banding = max(0.3, self.options.threshold - 0.2)
            self.lsh = MinHashLSH(threshold=banding, num_perm=self.options.num_perm)
        self._template = MinHash(num_perm=self.options.num_perm, seed=1, hashfunc=zlib.crc32)

    def seen_id(self, article_id: str) -> bool:
        """Return True when an article with this id was already accepted (skip fetching it again)."""
        return article_id in self.ids

    def check(self, article: Article) -> tuple[Verdict, Article]:
        """Return the verdict and the article to send (marked when it is a near duplicate)."""
        normalised = normalised_text(article.text)
        digest = text_hash(article.text, normalised)
        if article.id in self.ids or digest in self.hashes:
            return "duplicate", article
        self.ids.add(article.id)
        self.hashes[digest] = article.id
        signature = self.signature(normalised)
        root = self._near(signature) if signature is not None else None
        if root is not None:
            return "near_duplicate", article.model_copy(update={"near_duplicate_of": root})
        if signature is not None:
            # Only a family's first article is indexed: a story re-published a thousand times
            # costs one comparison per newcomer, not a thousand.
            self.signatures[article.id] = signature
            self.arrival[article.id] = len(self.arrival)
            assert self.lsh is not None
            self.lsh.insert(article.id, signature)
        return "new", article

    def signature(self, normalised: str) -> MinHash | None:
        """Return the MinHash of a normalised text's word shingles, or None when it is too short."""
        words = normalised.split()
        size = self.options.shingle_words
        shingles = {" ".join(words[i:i + size]).encode() for i in range(max(0, len(words) - size + 1))}
        if len(shingles) < self.options.min_shingles:
            return None
        # crc32: a C-speed 32-bit hash, 3x faster than datasketch's sha1 default and just as
        # good here (signatures only meet signatures of the same run, through the same function).
        assert self._template is not None
        signature = self._template.copy()
        signature.update_batch(list(shingles))
        return signature

    def _near(self, signature: MinHash) -> str | None:
        # LSH candidates can be false positives: confirm with the estimated Jaccard. Candidates
        # are first articles only; the earliest matching one names the family.
        assert self.lsh is not None
        matches = [key for key in self.lsh.query(signature)
                   if signature.jaccard(self.signatures[key]) >= self.options.threshold]
        return min(matches, key=self.arrival.__getitem__, default=None)
