"""Escalation scoring: rules are data (YAML, see docs/rules.md), this package compiles and applies them.

    Rules.load(path)          parse + validate every key (RuleError with file, line, key, reason)
    Rules.score(normed)       -> Escalation(severity, score, categories, casualties, matches)

    model        the severity scale, what rules and results are (frozen data)
    loading      rule files -> validated data, every error with file and line
    phrases      the phrase language (`kill*`, `air_strike`, `~3`, `#`) -> regular expressions; `fold`
    matching     phrase sets: one regex per language, which phrase a match is
    literals     where phrases may start, proved with literal words (twin: streams/_accel/phrases.py)
    sentences    sentence bounds, modifiers around a phrase, casualty counts
    namekeys     how names are folded before comparison
    watchlist    actors and places matched fuzzily
    namescreen   which capitalised runs may be names (twin: streams/_accel/watchlist.py)
    memo         what the scorer remembers between articles, bounded
    rules        a loaded rule set and how it scores an article
    reloading    the rules in force, reloaded when their files change

Pure Python: no Kafka or Faust here. Scoring never raises on odd input.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from streams.escalation.model import DEFAULT_RULES, SEVERITIES, Category, Escalation, Modifier
from streams.escalation.phrases import compile_phrase, dispatch_phrase, fold
from streams.escalation.sentences import sentence_bounds

if TYPE_CHECKING:
    from streams.escalation.reloading import RuleReloader, RulesHolder
    from streams.escalation.rules import Rules

__all__ = ["DEFAULT_RULES", "SEVERITIES", "Category", "Escalation", "Modifier", "RuleReloader", "Rules",
           "RulesHolder", "compile_phrase", "dispatch_phrase", "fold", "sentence_bounds"]

# The scorer is imported on first use: importing it chooses the implementation of its steps
# (streams._accel), which loads the compiled kernels; what needs only the severity scale (the command
# line's options, alerts) or the phrase language does not wait for that.
_SCORER = {"Rules": "streams.escalation.rules", "RulesHolder": "streams.escalation.reloading",
           "RuleReloader": "streams.escalation.reloading"}


def __getattr__(name: str) -> Any:
    if name in _SCORER:
        return getattr(importlib.import_module(_SCORER[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
