"""Words as an analyst compares them across outlets and languages: folding, spelling skeletons,
tokens with their capitalisation, and the markers outlets put on updates and on round-ups.

Pure functions over plain strings; no state. English and French are covered; other languages still
get names, places and numbers, which carry across languages by themselves.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

_COMBINING = re.compile(r"[\u0300-\u036f]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u2010": "-",
                              "\u2011": "-", "\u2013": "-", "\u2014": "-"})


def fold(text: str) -> str:
    """Lowercase, accents off, one apostrophe and one hyphen: "Sébastopol" -> "sebastopol"."""
    text = text.translate(_APOSTROPHES).lower()
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).replace("ı", "i").replace("ł", "l")


# Spelling variants of one name across English, French and academic transliteration: vowel quality,
# French "ou"/"ch"/"dj", "kh"/"k", doubled letters. "Kyiv"/"Kiev", "Zelenskyy"/"Zelensky"/"Zelenski",
# "Kostiantynivka"/"Kostyantynivka" and "Boukamal"/"Bukamal" share a skeleton.
_DIGRAPHS = (("ou", "u"), ("ch", "sh"), ("dj", "j"), ("kh", "k"), ("gh", "g"), ("ph", "f"), ("q", "k"),
             ("w", "v"), ("y", "i"), ("e", "i"), ("o", "u"), ("c", "k"))
_NOT_LETTER = re.compile(r"[^a-z0-9 ]+")
_DOUBLED = re.compile(r"(.)\1+")
_ARTICLE = re.compile(r"^(?:al|el|ad|ag|ar|as|at|az|ash|an|ez|es) ")


@lru_cache(maxsize=65536)
def skeleton(name: str) -> str:
    """The spelling skeleton of a name (one or more words): what two transliterations share."""
    text = _NOT_LETTER.sub(" ", fold(name).replace("'", "")).strip()
    text = _ARTICLE.sub("", text)   # "al-Bukamal" ~ "Bukamal"
    for a, b in _DIGRAPHS:
        text = text.replace(a, b)
    return " ".join(_DOUBLED.sub(r"\1", text).split())   # doubled letters once


class Token(NamedTuple):   # (a tuple: a few hundred are made per article, a dataclass is slower to build)
    text: str            # as written
    low: str             # folded
    capital: bool        # starts with a capital letter
    initial: bool        # first word of its sentence or of a headline label
    number: int | None   # the value of a number written in digits
    pause: bool = False  # a comma stands before it ("in Sevastopol, Crimea": two places, not one name)
    possessive: bool = False   # written with 's ("Kyiv's forces")


_TOKEN = re.compile(r"&#\d+;?|\d{1,3}(?:[,.\u202f\u00a0 ]\d{3})+(?![\d])|\d+|[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*"
                    r"|[.!?:;|\u2013\u2014,]")
_POSSESSIVE = re.compile(r"['\u2019]s$")
_ELISION = re.compile(r"^(?:[ldjnmstc]|qu|jusqu|lorsqu|puisqu)['\u2019](?=\w)", re.IGNORECASE)
_SENTENCE_END = frozenset(".!?:;|\u2013\u2014")
_PUNCTUATION = _SENTENCE_END | {","}


def tokens(text: str) -> list[Token]:
    """Words and numbers of `text`, each knowing whether a sentence starts with it."""
    out: list[Token] = []
    initial, pause = True, False
    for word in _TOKEN.findall(text):
        if len(word) == 1 and word in _PUNCTUATION:
            if word == ",":
                pause = True
            else:
                initial = True
            continue
        if word[0] == "&":
            continue   # a character reference left in a feed's text ("&#8220;"), not a number
        if word[0].isdigit():
            digits = re.sub(r"\D", "", word)
            out.append(Token(word, word, False, initial, int(digits) if len(digits) < 9 else None, pause))
        else:
            owner = False
            if "'" in word or "\u2019" in word:   # "Russia's" -> "Russia", "l'Ukraine" -> "Ukraine"
                bare = _POSSESSIVE.sub("", _ELISION.sub("", word))
                owner, word = len(bare) < len(_ELISION.sub("", word)), bare
            if word:
                low = word.lower() if word.isascii() and "`" not in word else fold(word)
                out.append(Token(word, low, word[0].isupper(), initial, None, pause, owner))
        initial = pause = False
    return out


def title_case(words: list[Token]) -> bool:
    """Whether a field capitalises most of its longer words (a headline style in which a capital says
    nothing about a word being a name)."""
    longer = [t for t in words if t.number is None and len(t.text) >= 4]
    return len(longer) >= 3 and sum(t.capital for t in longer) >= 0.6 * len(longer)


# What was hit or where it happened, as an analyst names an occurrence ("the market strike", "the
# hospital blast"): English and French words of one kind of site share one key. Most are common words,
# which say nothing elsewhere; next to violence they say which occurrence.
_SITE_WORDS = {
    "market": "market marketplace bazaar marche", "hospital": "hospital hospitals hopital clinic",
    "school": "school schools ecole college kindergarten", "university": "university universite campus",
    "mosque": "mosque mosques mosquee", "church": "church cathedral eglise monastery",
    "synagogue": "synagogue", "temple": "temple shrine", "port": "port harbour harbor seaport",
    "airport": "airport aeroport airfield airbase", "bridge": "bridge pont", "shipyard": "shipyard dock docks",
    "refinery": "refinery raffinerie", "depot": "depot warehouse entrepot", "embassy": "embassy ambassade",
    "consulate": "consulate consulat", "camp": "camp", "prison": "prison jail", "wedding": "wedding mariage",
    "funeral": "funeral funerailles", "festival": "festival", "concert": "concert", "theatre": "theatre theater",
    "stadium": "stadium stade",
    "mall": "mall supermarket", "hotel": "hotel", "station": "station gare", "train": "train",
    "bus": "bus", "convoy": "convoy convoi", "checkpoint": "checkpoint", "barracks": "barracks caserne",
    "headquarters": "headquarters hq", "parliament": "parliament parlement", "power": "powerplant",
    "procession": "procession", "rally": "rally", "restaurant": "restaurant cafe", "nightclub": "nightclub",
    "beach": "beach plage", "village": "village", "dam": "dam barrage", "grain": "grain cereales",
    "fleet": "fleet flotte", "ship": "ship vessel warship navire", "submarine": "submarine sous-marin",
}
SITES = {word: site for site, words in _SITE_WORDS.items() for word in words.split()}
# The kind of violence, as reports of one occurrence name it in either language: strikes from afar
# (missiles, drones, shelling: one wave is often all three), a bombing, a shooting, a stabbing,
# fighting; a blast may be a strike or a bombing. A strike on a city and a shooting there the same day
# are two occurrences.
_KIND_WORDS = {
    "strike": "strike strikes airstrike airstrikes air-strike frappe frappes raid raids drone drones uav uavs shahed "
    "shaheds missile missiles rocket rockets ballistic roquette roquettes shelling shelled shells artillery mortar "
    "mortars bombardment bombardement obus pilonnage barrage",
    "blast": "blast blasts explosion explosions explode explodes exploded exploding",
    "bombing": "bomb bombs bombing bombings bomber bombers explosive explosives "
    "ied suicide car-bomb attentat kamikaze", "shooting": "shooting shootings shot shooter gunman gunmen gunfire "
    "gunshot gunshots gunfight shootout fusillade tireur tirs ambush ambushed embuscade", "stabbing": "stabbing "
    "stabbed knife couteau poignarde", "fighting": "clash clashes fighting battle battles combats "
    "affrontements heurts offensive incursion invasion assault assaut", "hostage": "hostage hostages kidnapped "
    "kidnapping abducted abduction otage otages enleve enlevement", "riot": "riot riots rioting unrest emeute "
    "emeutes", "arson": "arson firebomb firebombs incendiaire",
}
KINDS = {word: kind for kind, words in _KIND_WORDS.items() for word in words.split()}

# What outlets write on a revised figure or a later report of the same event.
UPDATE = re.compile(
    r"\b(?:(?:death )?toll|bilan|number of (?:dead|deaths|victims))\b[^.]{0,40}?\b(?:rises?|rose|risen|climbs?|"
    r"climbed|jumps?|jumped|reach(?:es|ed)?|hits?|now|revised|passes|passed|lowered|s'alourdit|alourdi|"
    r"grimpe|atteint|passe|revu)\b|\b(?:rises|climbs|jumps) to\b|\brevised (?:up|down)|\brevu a la (?:hausse|baisse)"
    r"|\b(?:update[ds]?|mise a jour|updated toll)\b|\bvictims? (?:named|identified)|\baftermath\b"
    r"|\bau lendemain\b")
# Words that say a report is about a new occurrence, not the one reported before.
_NTH = r"(?:second|third|fourth|fifth|sixth|2nd|3rd|4th|5th|6th|deuxieme|troisieme|quatrieme)"
NEW_OCCURRENCE = re.compile(
    r"\b(?:again|another|fresh|renewed|" + _NTH + r" (?:day|night|time|attack|strike|wave|(?:\w+ )?(?:attack|strike|"
    r"bombing|blast|shooting)s?)|in (?:two|three|four|five|six|\d) days|"
    r"new (?:wave|round|attack|attacks|strike|strikes|barrage|assault)|de nouveau|a nouveau|nouvelle "
    r"(?:attaque|frappe|vague|salve)|nouvelles (?:frappes|attaques)|" + _NTH + r" (?:jour|nuit)|encore)\b")
# A report of fighting that goes on (an offensive, clashes, a siege, a battle): one occurrence over its
# day or days, while a strike or a bombing is over when it is reported.
CONTINUING = re.compile(
    r"\b(?:offensives?|operations?|fighting|clash(?:es)?|battles?|gun ?battles?|siege|hostilities|assaults?|"
    r"incursion|affrontements|combats|operation militaire|assaut)\b")
# Headline labels and phrases of items that carry several stories: live blogs, briefings, round-ups.
_DIGEST_LABEL = re.compile(
    r"\b(?:live|latest|briefing|glance|round-?up|wrap|digest|newsletter|what we know|must-reads?|in brief|"
    r"recap|the week|this week|morning|evening|en direct|direct|l'essentiel|ce qu'il faut (?:savoir|retenir)|"
    r"ce que l'on sait|revue de presse|le point|les infos|a la une)\b")
_DIGEST_ANYWHERE = re.compile(
    r"\b(?:live updates|as it happened|what we know on day|day \d+ of the|must-reads?|things to know|"
    r"top stories|news quiz|the week in|en direct|ce qu'il faut retenir)\b")
_PLUS = re.compile(r"(?:^|[.!?]\s+)(?:plus|also|and in other news|in other news|elsewhere)[,:]?\s", re.IGNORECASE)


def label_of(title: str) -> str:
    """A headline's label: the words before its first colon, when short ("Ukraine war live")."""
    head, sep, _ = title.partition(":")
    return fold(head) if sep and len(head) <= 60 else ""


def is_digest(title: str, body: str) -> bool:
    """Whether the item reports several stories (a live blog, a briefing, a round-up, a digest)."""
    label = label_of(title)
    if label and _DIGEST_LABEL.search(label):
        return True
    folded = fold(title)
    if _DIGEST_ANYWHERE.search(folded):
        return True
    return bool(_PLUS.search(body[:400]))


def lead(title: str, body: str) -> tuple[str, str]:
    """The lead story of a digest: its headline after the label, up to the next story (";"), and the
    first sentence of its summary."""
    head = title.split(":", 1)[1] if label_of(title) else title
    first = re.split(r"(?<=[.!?])\s+", body.strip(), maxsplit=1)[0] if body else ""
    return head.split(";")[0], first
