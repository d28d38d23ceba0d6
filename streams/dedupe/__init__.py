"""Dedupe: near-identical copies -> `copy_of`, copies and wire rewrites -> `story_id`.

One `DedupeIndex` serves any number of languages, but every language is a separate window with its
own tables, clock and sequence numbers (`window`): an article is only ever compared with articles of
its own `norm.language`, so streaming (one partition per language) and replay (file order) agree.

Per article (see `streams.normalize.fingerprinting` for the fingerprints):

1. Candidates (`candidates`): lead keys (word 5-grams of the lead) find copies, vocab keys (the
   article's rarest content words) find rewrites; looking up a handful of keys costs the same with
   10 k or 1 M articles in the window.
2. Verification (`verify`) of the best few candidates, with their stored records:
   copy  = the shorter key's first 120 words are contained in the other's first 380 words:
           containment >= `copy_threshold`; a candidate that is itself a copy that fails is
           followed to its root (a key often points at a trimmed or summary copy);
   story = share of the new article's content words (words common in the window left out) found in
           the candidate's vocabulary >= `story_threshold`; the story's first article is compared
           too; an article written from several wire stories joins the best one when together they
           hold >= `joint_threshold`.
3. State (`index`). Everything needed after a restart is in `store` (a Faust table in the worker):
   `a:<id>` one record per article in the window (decision, fingerprints, packed key words). The
   window's clock (newest event time, next sequence number) is derived from the records on rebuild:
   the article that advanced it is the newest and was stored (`m:<language>` records of older
   versions are still read). The candidate index is rebuilt from the records when an index is
   created over a non-empty store, the only time the store is iterated. Records older than newest
   event time - `window` are deleted. Per new article: one store write and a few reads
   (candidates); ids in the window are also kept in memory so that only replays read their record.

Deciding an id that is already in the store returns the stored decision and changes nothing.

The package is plain Python; the steps with a compiled twin in `streams._accel` (the candidate
index, copy similarity, vocabulary containment, unpacking) are run through `steps`, which picks one
implementation when it is imported.
"""

from __future__ import annotations

from streams.dedupe.index import DedupeIndex
from streams.dedupe.options import Decision, Options
from streams.dedupe.window import parse_time

__all__ = ["Decision", "DedupeIndex", "Options", "parse_time"]
