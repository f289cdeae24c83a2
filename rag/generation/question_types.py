"""What a question asks for, read from its words alone (pure functions, no model).

`analyze` maps the wh-word and head noun to the entity types a short answer must have
(who -> PERSON, where -> GPE/LOC/FAC, when -> a date, how many -> a number, ...), spots
yes/no questions ("Are X and Y both ...?") and choices between two named options
("Which film came out first, A or B?"), and says which end of a comparison wins
("earlier", "older", "died later"). Dates are found and normalised by `find_dates`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

PERSON = ("PERSON",)
PLACE = ("GPE", "LOC", "FAC")
NUMBER = ("CARDINAL", "QUANTITY", "MONEY", "PERCENT")
NATIONALITY = ("NORP", "GPE")
DATE = ("DATE",)

# Relation nouns of 2-hop questions and the words near which a passage names the related
# entity ("directed by", "son of").
RELATION_CUES: dict[str, tuple[str, ...]] = {
    "director": ("direct",), "composer": ("compos", "music", "score"),
    "performer": ("perform", "sung", "sing", "record", "by"), "producer": ("produc",),
    "author": ("writ", "author", "by"), "writer": ("writ", "by"), "creator": ("creat", "by"),
    "father": ("son of", "daughter of", "father", "child of"),
    "mother": ("son of", "daughter of", "mother", "child of"),
    "husband": ("married", "husband", "wife of", "spouse"),
    "wife": ("married", "wife", "husband of", "spouse"), "founder": ("found",),
    "spouse": ("married", "wife", "husband", "spouse"),
}
# Kinship words that are two steps ("paternal grandfather": the father's father).
CHAINS: dict[str, tuple[str, ...]] = {
    "grandfather": ("father", "father"), "grandmother": ("father", "mother"),
    "father-in-law": ("spouse", "father"), "mother-in-law": ("spouse", "mother"),
}
# Question words -> words a passage uses for the same thing ("burial" -> "buried").
SYNONYMS = {"burial": ("buried", "interred"), "death": ("died",), "die": ("died",),
            "birth": ("born",), "study": ("studied", "educated", "graduated", "attended"),
            "graduate": ("graduated", "studied", "educated"), "work": ("worked", "works"),
            "spouse": ("married", "wife", "husband"), "nationality": ("citizen",),
            "award": ("awarded", "won", "received"), "received": ("awarded", "won")}
STOPWORDS = frozenset("a an the of in on at to for from by with and or is are was were be been "
                  "do does did who whom whose what which when where why how that this these "
                  "those it its as both same film song".split())

_YES_NO = re.compile(r"^(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|"
                     r"should)\b", re.I)
# Head nouns of "what/which <noun>" and "the <noun> of" questions -> answer types.
_HEAD_TYPES: dict[str, tuple[str, ...]] = {
    **{w: PLACE for w in ("place", "city", "country", "town", "state", "village", "county",
                          "location", "region", "province", "birthplace", "continent")},
    **{w: DATE for w in ("year", "date", "birthday", "century", "decade")},
    **{w: PERSON for w in ("person", "director", "father", "mother", "husband", "wife",
                           "son", "daughter", "author", "composer", "performer", "singer",
                           "actor", "actress", "producer", "writer", "founder", "president",
                           "grandfather", "grandmother", "king", "queen", "brother", "sister",
                           "uncle", "aunt", "spouse", "child", "father-in-law",
                           "mother-in-law", "leader", "player", "artist", "creator")},
    **{w: ("NORP", "GPE", "LANGUAGE") for w in ("nationality", "language")},
    **{w: ("ORG",) for w in ("company", "university", "organization", "band", "team",
                             "school", "college", "party", "club", "label", "network")},
    "population": NUMBER,
}
_WHEN = re.compile(r"^(?:when|what year|which year|in what year|in which year|what date)\b",
                   re.I)
_HOW_MANY = re.compile(r"\bhow (?:many|much|long|old|tall|far|large|big)\b", re.I)
_WHO = re.compile(r"^(?:who|whom|whose)\b|\bto whom\b|\bby whom\b|\bwho\b", re.I)
_WHERE = re.compile(r"^where\b|\bwhere\b", re.I)
_WHAT_HEAD = re.compile(r"\b(?:what|which)\s+(?:is\s+the\s+|was\s+the\s+|are\s+the\s+)?"
                        r"([a-z-]+)(?:\s+of)?", re.I)
_THE_HEAD_OF = re.compile(r"\b(?:what|which) (?:is|was|are|were) the ([a-z-]+(?: of [a-z]+)?)"
                          r" of\b", re.I)
_OPTIONS = re.compile(r",\s*([^,?]+?(?:,[^,?]+?)?)\s+or\s+(.+?)\s*\??\s*$")
_OPTIONS_BARE = re.compile(r"\b(?:first|earlier|later|last|older|younger|more recently|"
                           r"newer|longer|shorter)\b[,:]?\s+(.+?)\s+or\s+(.+?)\s*\??\s*$",
                           re.I)
_EARLY = re.compile(r"\b(?:first|earlier|earliest|older|oldest|sooner|before)\b", re.I)
_LATE = re.compile(r"\b(?:later|last|latest|younger|youngest|more recent(?:ly)?|newer|"
                   r"most recent(?:ly)?|after)\b", re.I)
_DEATH = re.compile(r"\b(?:die|died|dies|death|dead|pass(?:ed)? away)\b", re.I)
_BIRTH = re.compile(r"\b(?:born|birth|birthday|older|younger|oldest|youngest|age)\b", re.I)


@dataclass(frozen=True)
class QuestionType:
    """What a question wants: `kind` is "entity", "yesno", "choice" or "open" (why/how:
    no short answer); `types` the
    spaCy labels an entity answer may have (empty: any noun phrase); `options` the two
    named options of a choice; `order` "early"/"late" for a comparison; `event` "birth",
    "death" or "" (which date of a person counts)."""

    kind: str
    types: tuple[str, ...] = ()
    head: str = ""
    options: tuple[str, ...] = field(default_factory=tuple)
    order: str = ""
    event: str = ""


def _strip(option: str) -> str:
    return option.strip(" \t\"'.,:;")  # (a title's own "?" stays: "Who's Minding The Mint?")


def choice_options(question: str) -> tuple[str, ...]:
    """The two options of "..., A or B?" (empty when the question offers none)."""
    text = question.strip()
    match = _OPTIONS.search(text) or _OPTIONS_BARE.search(text)
    if not match:
        return ()
    first, second = _strip(match.group(1)), _strip(match.group(2))
    return (first, second) if first and second else ()


def comparison_order(question: str) -> str:
    """"early" when the earlier/older/first one wins, "late" for later/younger, "longer"
    for who lived longer, else ""."""
    if re.search(r"\blived longer\b", question, re.I):
        return "longer"
    late, early = _LATE.search(question), _EARLY.search(question)
    if late and early:  # "born first ... later"? the first cue names the comparison
        return "late" if late.start() < early.start() else "early"
    if re.search(r"\byounger|youngest\b", question, re.I):
        return "late"
    return "late" if late else "early" if early else ""


def date_event(question: str) -> str:
    """"death" when the question is about dying, "birth" about being born/age, else ""."""
    if _DEATH.search(question):
        return "death"
    return "birth" if _BIRTH.search(question) else ""


def head_types(question: str) -> tuple[str, tuple[str, ...]]:
    """The head noun of a what/which question and the answer types it implies."""
    for pattern in (_THE_HEAD_OF, _WHAT_HEAD):
        match = pattern.search(question)
        if match:
            words = match.group(1).lower().split()
            for word in (words[-1], words[0]):
                if word in _HEAD_TYPES:
                    return word, _HEAD_TYPES[word]
            if match.group(0).lower().split()[1:3] in (
                    ["is", "the"], ["was", "the"], ["are", "the"]):
                return noun_phrase_head(question[match.start(1):]), ()
            return words[0], ()
    return "", ()


def noun_phrase_head(text: str) -> str:
    """The last noun of the phrase `text` starts with, guessed without a parser: the
    words before the first function word or participle ("vault code chosen by ..." ->
    "code")."""
    words = re.findall(r"[a-z-]+", text.lower())
    if len(words) > 2 and words[0] in ("name", "title", "term", "kind", "type") and \
            words[1] in ("of", "for"):  # "the name of the waterfall": a waterfall
        words = words[3:] if words[2] in ("the", "a", "an") else words[2:]
    kept: list[str] = []
    for n, word in enumerate(words[:4]):
        passive = n + 1 < len(words) and words[n + 1] == "by"  # "chosen by"
        if kept and (word in STOPWORDS or word.endswith("ed") or passive):
            break
        kept.append(word)
    return kept[-1] if kept else ""


def _entity_type(text: str) -> QuestionType:
    """The answer type of a question that wants an entity (or "open" for why/how)."""
    event = date_event(text)
    if _WHEN.match(text) or re.match(r"^(?:what|which) (?:is|was) the (?:date|year)\b", text, re.I):
        return QuestionType("entity", DATE, "date", event=event)
    if _HOW_MANY.search(text):
        return QuestionType("entity", NUMBER, "number")
    if re.match(r"^(?:why|how)\b", text, re.I):
        return QuestionType("open")  # a reason or a manner: no span to pick
    head, types = head_types(text)
    if re.match(r"^(?:what|which)\b", text, re.I) and head in ("place", "date", "nationality"):
        return QuestionType("entity", types, head, event=event)
    # The wh-word first, then the head noun, then a wh-word inside the question.
    for pattern, found in ((r"^(?:who|whom|whose)\b", PERSON), (r"^where\b", PLACE + ("ORG",)),
                           (None, types), (_WHO.pattern, PERSON),
                           (_WHERE.pattern, PLACE + ("ORG",))):
        if pattern is None:
            if types:
                return QuestionType("entity", types, head, event=event)
        elif re.search(pattern, text, re.I):
            return QuestionType("entity", found, "person" if found == PERSON else "place",
                                event=event)
    if _WHEN.search(text) or re.search(r"\b(?:what|which) year\b", text, re.I):
        return QuestionType("entity", DATE, "date", event=event)
    return QuestionType("entity", (), head)


def analyze(question: str) -> QuestionType:
    """Classify a question (see `QuestionType`)."""
    text = " ".join(question.split())
    options = choice_options(text)
    if _YES_NO.match(text):
        return QuestionType("yesno", options=options, order=comparison_order(text),
                            event=date_event(text))
    if options:
        return QuestionType("choice", options=options, order=comparison_order(text),
                            event=date_event(text))
    return _entity_type(text)


# -- dates ---------------------------------------------------------------------------------
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|" \
         r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_DATE = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})\s+(?P<m1>{_MONTH})\s+(?P<y1>\d{{3,4}})"
    rf"|(?P<m2>{_MONTH})\s+(?P<d2>\d{{1,2}}),?\s+(?P<y2>\d{{3,4}})"
    rf"|(?P<m3>{_MONTH})\s+(?P<y3>\d{{4}})"
    r"|(?P<y4>(?:1[0-9]|20)\d{2})(?!\s*(?:km|m|kg|people|inhabitants|metres|meters|feet))"
    r"|(?:(?<=\bin )|(?<=\bdied )|(?<=\bborn )|(?<=\bc\. )|(?<=\bca\. )|(?<=[(–-]))"
    r"(?P<y5>\d{3}))\b")


@dataclass(frozen=True)
class DateMention:
    """A date in a text: its span, the text as written and a sortable (y, m, d) key
    (month and day 0 when unknown)."""

    start: int
    end: int
    text: str
    key: tuple[int, int, int]


def _month(name: str) -> int:
    name = name.lower().rstrip(".")
    return next(n for n, m in enumerate(_MONTHS, start=1) if m.startswith(name[:3]))


def find_dates(text: str) -> list[DateMention]:
    """Every date in `text`, in order: "1 May 1905", "May 1, 1905", "May 1905", "1905"."""
    found = []
    for m in _DATE.finditer(text):
        g = m.groupdict()
        if g["y1"]:
            key = (int(g["y1"]), _month(g["m1"]), int(g["d1"]))
        elif g["y2"]:
            key = (int(g["y2"]), _month(g["m2"]), int(g["d2"]))
        elif g["y3"]:
            key = (int(g["y3"]), _month(g["m3"]), 0)
        else:
            key = (int(g["y4"] or g["y5"]), 0, 0)
        found.append(DateMention(m.start(), m.end(), m.group(0), key))
    return found


def life_dates(text: str) -> tuple[DateMention | None, DateMention | None]:
    """Birth and death dates of a biography's opening: "(1 May 1905 – 21 September 1988)",
    "(born 1950)", "(died 953)"; falls back to the dates near "born" / "died"."""
    birth = death = None
    dates = find_dates(text[:600])
    for date in dates:
        before = text[max(0, date.start - 40):date.start].lower()
        if re.search(r"\b(?:died|death|d\.)\s*(?:on|in)?\s*$", before) or re.search(
                r"[–—-]\s*$", before) and birth is not None:
            death = death or date
        elif re.search(r"\b(?:born|birth|b\.)\b[^.;()]*$", before) or (
                birth is None and re.search(r"\(\s*(?:[^()]*;\s*)?$", before)):
            birth = birth or date
    return birth, death


_DEMONYMS = {"american": "united states", "us": "united states", "usa": "united states",
             "u s": "united states", "america": "united states", "british": "united kingdom",
             "english": "united kingdom", "uk": "united kingdom", "england": "united kingdom",
             "french": "france", "german": "germany", "italian": "italy", "spanish": "spain",
             "indian": "india", "japanese": "japan", "chinese": "china", "russian": "russia",
             "soviet": "russia", "canadian": "canada", "australian": "australia",
             "swedish": "sweden", "danish": "denmark", "norwegian": "norway",
             "dutch": "netherlands", "polish": "poland", "mexican": "mexico",
             "brazilian": "brazil", "argentine": "argentina", "finnish": "finland",
             "greek": "greece", "turkish": "turkey", "korean": "korea", "south korean": "korea",
             "irish": "ireland", "scottish": "united kingdom", "welsh": "united kingdom",
             "austrian": "austria", "hungarian": "hungary", "czech": "czech republic",
             "belgian": "belgium", "swiss": "switzerland", "portuguese": "portugal",
             "filipino": "philippines", "egyptian": "egypt", "iranian": "iran"}


def nationality_key(text: str) -> str:
    """One key for a country and its demonym ("American" and "United States" alike)."""
    from indexes.kg.openie import normalize_entity

    norm = normalize_entity(text)
    return _DEMONYMS.get(norm, norm)


# -- relations and words -------------------------------------------------------------
def content_words(text: str) -> list[str]:
    """Lower-cased words of `text` that carry content (no stopwords, no 1-letter words)."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS and len(w) > 1]


def relation_of(question: str) -> str:
    """The first relation noun a 2-hop question goes through ("the director of film X")."""
    chain = relation_chain(question)
    return chain[0] if chain else ""


def relation_chain(question: str) -> list[str]:
    """The relations from the named entity to the answer, nearest the entity first:
    "the father of the director of film X" -> [director, father]; "X's paternal
    grandfather" -> [father, father]; "maternal grandmother" -> [mother, mother]."""
    words = re.findall(r"[a-z]+(?:-in-law)?", question.lower())
    steps: list[str] = []
    for n, word in enumerate(words):
        if word in CHAINS:
            first, second = CHAINS[word]
            if n and words[n - 1] == "maternal":
                first = "mother"
            steps.append([first, second])
        elif word in RELATION_CUES:
            steps.append([word])
    return [r for step in reversed(steps) for r in step]


def expand_terms(words: Sequence[str]) -> set[str]:
    """Question words with the words passages use for them (`SYNONYMS`)."""
    return set(words) | {w for word in words for w in SYNONYMS.get(word, ())}
