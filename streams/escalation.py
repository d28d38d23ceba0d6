"""Escalation scoring from YAML rules. PLACEHOLDER (walking skeleton): plain keyword weights."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connectors.errors import RuleError

SEVERITIES = ("none", "low", "medium", "high", "critical")
DEFAULT_RULES = Path(__file__).resolve().parent.parent / "seeds" / "rules" / "escalation.yaml"


@dataclass
class Escalation:
    severity: str = "none"
    score: float = 0.0
    categories: list[str] = field(default_factory=list)
    casualties: int | None = None
    matches: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Rules:
    def __init__(self, version: str, terms: dict[str, tuple[str, float]], thresholds: dict[str, float]):
        self.version = version
        self.terms = terms
        self.thresholds = thresholds
        self._pattern = re.compile(r"\b(" + "|".join(map(re.escape, terms)) + r")\w*", re.IGNORECASE)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_RULES) -> Rules:
        try:
            doc = yaml.safe_load(Path(path).read_text("utf-8"))
            terms = {t: (c["name"], float(c["weight"])) for c in doc["categories"] for t in c["terms"]}
            return cls(str(doc["version"]), terms, {k: float(v) for k, v in doc["thresholds"].items()})
        except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
            raise RuleError(str(exc), file=str(path)) from exc

    def score(self, normed: Mapping[str, Any]) -> Escalation:
        norm = normed["norm"]
        result = Escalation()
        for field_name, text in (("title", norm["title"]), (norm["body_field"], norm["body"])):
            for m in self._pattern.finditer(text):
                category, weight = self.terms[m.group(1).lower()]
                result.matches.append({"term": m.group(0), "category": category, "field": field_name,
                                       "start": m.start(), "end": m.end()})
                result.score += weight
                if category not in result.categories:
                    result.categories.append(category)
        for name in SEVERITIES[::-1]:
            if result.score >= self.thresholds.get(name, float("inf")):
                result.severity = name
                break
        return result
