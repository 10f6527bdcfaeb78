"""Synthetic biographies (bioS, after Allen-Zhu & Li, arXiv 2309.14316): people with attributes,
written out by combinatorial templates, word-level tokens.

A person has a full name (first name, middle initial, last name; the full name is unique), a
gender (for pronouns), a birth date, a birth city, a university, a major and an employer. Every
employer has a fixed headquarters city: a world fact shared by everyone who works there. A
biography is six sentences, one per attribute plus the employer's city:

    Nadia K. Okafor was born on March 3 , 1978 . Notably , she grew up in Lisbon , by all
    accounts . ... She works for Apex Dynamics . Apex Dynamics is headquartered in Denver .

Each sentence is an opener × a subject form × an adverb × a frame of its attribute × a closer,
drawn afresh per rendering (`SENTENCE_FORMS` counts them: 61,440 per person attribute), so a
person's facts can be rephrased hundreds of times with few repeated sentences. The last
`HELD_OUT_FRAMES` frames of each attribute never appear in training renderings: the probe of a
fact in a wording never seen.

Dependencies between sentences (the true DAG, for notebook 07): the first sentence names the
person in full and every later sentence refers back to it (a pronoun or a shorter name); the
employer's city sentence needs the employer sentence. `render(..., order="shuffled")` permutes
the sentences within those constraints; `"canonical"` keeps `ATTRIBUTES`' order.

Tokens carry a kind: 0 text, 1 name (the person's name tokens), 2 value (an attribute's value), so
a loss can be read on the facts alone. `qa_document` writes a person's six facts as questions and
answers for extraction tests (Allen-Zhu & Li's QA format; a `World(qa=True)` has its words).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from nblib.config import ConfigError

TEXT, NAME, VALUE = 0, 1, 2  # token kinds
ATTRIBUTES = ("birth_date", "birth_city", "university", "major", "employer", "employer_city")
HELD_OUT_FRAMES = 2  # per attribute, the last frames: never in training renderings
DOC, PAD = "<doc>", "<pad>"  # a document's first token; padding

FIRST = {
    "m": ("James John Robert Michael David William Richard Joseph Thomas Daniel Matthew Anthony "
          "Mark Paul Steven Andrew Kenneth Joshua Kevin Brian George Timothy Ronald Jason Edward "
          "Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon "
          "Benjamin Samuel Gregory Alexander Patrick Frank Raymond Jack Dennis Jerry Tyler Aaron "
          "Henry Adam Nathan Peter Zachary Kyle Walter Harold Carl Arthur Omar Kofi").split(),
    "f": ("Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy "
          "Betty Sandra Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa "
          "Deborah Stephanie Rebecca Sharon Laura Cynthia Dorothy Amy Kathleen Angela Shirley "
          "Emma Brenda Pamela Nicole Anna Samantha Katherine Christine Helen Debra Rachel Carolyn "
          "Janet Maria Catherine Heather Diane Olivia Julie Joyce Victoria Ruth Nadia Amara Leila "
          "Ingrid").split(),
}
INITIALS = [f"{c}." for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
        "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
        "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
        "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
        "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris "
        "Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly "
        "Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza "
        "Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Okafor "
        "Mensah Novak Kowalski Lindqvist Haddad Tanaka Sato Ivanova Rossi Fischer Dubois").split()
CITIES = ("Lisbon Denver Boston Austin Seattle Chicago Atlanta Phoenix Portland Dallas Houston "
          "Miami Detroit Memphis Nashville Omaha Tulsa Tucson Fresno Sacramento Oakland Raleigh "
          "Richmond Baltimore Pittsburgh Cleveland Columbus Cincinnati Milwaukee Minneapolis "
          "Kansas Louisville Albany Buffalo Rochester Hartford Providence Newark Toronto Montreal "
          "Vancouver Calgary Ottawa Dublin Madrid Porto Seville Valencia Lyon Marseille Munich "
          "Hamburg Vienna Prague Warsaw Krakow Oslo Bergen Stockholm Helsinki Tallinn Riga Vilnius "
          "Athens Naples Milan Turin Zurich Geneva Brussels Antwerp Rotterdam Utrecht Glasgow "
          "Leeds Bristol Cardiff Lagos Accra Nairobi Cairo Tunis Mumbai Pune Osaka Kyoto Seoul "
          "Busan Manila Jakarta Lima Quito Bogota Santiago").split()
UNIVERSITIES = [tuple(u.split()) for u in (
    [f"University of {c}" for c in ("Lisbon Denver Boston Austin Seattle Chicago Toronto Dublin "
                                    "Madrid Vienna Prague Oslo Helsinki Athens Milan Zurich "
                                    "Glasgow Lagos Nairobi Kyoto Seoul Lima").split()]
    + [f"{c} Institute of Technology" for c in "Atlanta Munich Stockholm Osaka Bogota".split()]
    + [f"{c} College" for c in "Richmond Albany Hartford Bristol Leeds Utrecht Accra".split()]
    + [f"{c} State University" for c in "Phoenix Portland Dallas Tulsa Omaha Fresno".split()])]
MAJORS = [tuple(m.split()) for m in (
    "mathematics;physics;chemistry;biology;economics;history;philosophy;linguistics;sociology;"
    "psychology;anthropology;geology;astronomy;statistics;architecture;music;law;medicine;"
    "nursing;accounting;finance;marketing;journalism;literature;computer science;data science;"
    "civil engineering;mechanical engineering;electrical engineering;chemical engineering;"
    "political science;environmental science;materials science;graphic design;public health;"
    "art history;classics;education;agriculture;oceanography").split(";")]
_PREFIX = ("Apex Summit Harbor Granite Silver Crimson Northern Blue Cedar Iron Quantum Vertex "
           "Pioneer Atlas Orion Falcon Maple Coral Beacon Horizon").split()
_SUFFIX = "Dynamics Labs Systems Holdings Industries Partners Logistics Foods".split()
MONTHS = ("January February March April May June July August September October November "
          "December").split()
DAYS = [str(d) for d in range(1, 29)]
YEARS = [str(y) for y in range(1940, 2006)]

# frames per attribute: {S} the subject, {Sp} its possessive pronoun (always after {S}), {V} the
# value's tokens; for birth_date {M} {D} {Y}; for employer_city {C} the employer's name (the
# dependency). Every person frame names {S}. The last
# HELD_OUT_FRAMES of each list are held out of training.
FRAMES = {
    "birth_date": [
        "{S} was born on {M} {D} , {Y}", "{S} came into the world on {M} {D} , {Y}",
        "{S} was born in {Y} , on {M} {D}", "the birthday of {S} falls on {M} {D} , {Y}",
        "{S} celebrates {Sp} birthday on {M} {D} , having been born in {Y}",
        "{S} entered life on {M} {D} , {Y}", "the birth of {S} took place on {M} {D} , {Y}",
        "{S} arrived on {M} {D} , {Y}", "the date of birth of {S} is {M} {D} , {Y}",
        "{S} first saw daylight on {M} {D} , {Y}",
        "records list {M} {D} , {Y} as the day {S} was born",
        "{S} was delivered on {M} {D} in the year {Y}"],
    "birth_city": [
        "{S} was born in {V}", "{S} grew up in {V}", "{S} spent {Sp} early years in {V}",
        "the hometown of {S} is {V}", "{S} hails from {V}", "{S} comes from {V}",
        "{S} was raised in {V}", "the city of {V} is where {S} was born",
        "{S} spent {Sp} childhood in {V}", "the birthplace of {S} is {V}",
        "{S} traces {Sp} roots to {V}", "{V} is the city {S} calls home"],
    "university": [
        "{S} studied at {V}", "{S} attended {V}", "{S} graduated from {V}",
        "{S} received {Sp} degree from {V}", "{S} enrolled at {V}", "the alma mater of {S} is {V}",
        "{S} completed {Sp} education at {V}", "{S} spent four years at {V}",
        "{S} earned a diploma at {V}", "{S} was a student at {V}",
        "{V} is where {S} went to university", "{S} holds a degree from {V}"],
    "major": [
        "{S} majored in {V}", "{S} studied {V}", "{S} specialised in {V}",
        "the field of study of {S} was {V}", "{S} focused on {V}", "{S} pursued a degree in {V}",
        "{S} chose {V} as {Sp} major", "the academic focus of {S} was {V}",
        "{S} concentrated on {V}", "{S} trained in {V}",
        "{V} was the subject {S} studied", "{S} read {V} at university"],
    "employer": [
        "{S} works for {V}", "{S} is employed by {V}", "{S} has a job at {V}",
        "the employer of {S} is {V}", "{S} works at {V}", "{S} earns a living at {V}",
        "{S} joined {V}", "{S} is on the staff of {V}", "{S} holds a position at {V}",
        "{S} is part of the team at {V}",
        "{V} is the company {S} works for", "{S} draws a salary from {V}"],
    "employer_city": [
        "{C} is headquartered in {V}", "{C} has its head office in {V}", "{C} is based in {V}",
        "the headquarters of {C} are in {V}", "{C} operates out of {V}",
        "{C} was founded in {V}", "{C} keeps its main office in {V}", "{C} is located in {V}",
        "{V} is home to {C}", "{C} runs its business from {V}",
        "{V} hosts the main office of {C}", "{C} has its base in {V}"],
}
OPENERS = ["", "notably ,", "in fact ,", "as it happens ,", "for the record ,",
           "according to records ,", "it is known that", "interestingly ,", "as noted ,",
           "to be precise ,", "as far as anyone knows ,", "by most accounts ,", "of course ,",
           "it is said that", "records show that", "one should add that"]
MIDS = ["", "reportedly", "apparently", "famously", "indeed", "certainly", "evidently",
        "undoubtedly"]  # after the subject
CLOSERS = ["", ", by all accounts", ", as friends recall", ", according to public records",
           ", it turns out", ", as many know", ", as colleagues say", ", so the story goes",
           ", as the family confirms", ", people say", ", as is well known",
           ", the archives note"]
# words right before and after a value, so that the n-grams around a fact vary too
BEFORE_VALUE = {
    "birth_date": ["", "exactly", "precisely", "the date", "the day of"],
    "birth_city": ["", "the city of", "the town of", "lovely", "bustling", "historic"],
    "university": ["", "the renowned", "the famous", "the respected", "the well known"],
    "major": ["", "the field of", "the subject of", "the discipline of", "advanced"],
    "employer": ["", "the firm", "the company", "the well known firm", "the business"],
    "employer_city": ["", "the city of", "the town of", "lovely", "bustling", "historic"],
}
AFTER_VALUE = ["", "no less", "of all places", "in particular", "as it were", "so to speak"]
SUBJECTS = ("full", "first_last", "pronoun", "first")  # forms after the first sentence
# one question per attribute ({S}: the full name), answered by the value after "answer :"
QA_FRAMES = {"birth_date": "when was {S} born ?", "birth_city": "where was {S} born ?",
             "university": "which university did {S} attend ?", "major": "what did {S} study ?",
             "employer": "who employs {S} ?", "employer_city": "where is the employer of {S} ?"}
QA_WORDS = ["answer", ":", "?"] + [w for q in QA_FRAMES.values() for w in q.split()
                                   if not w.startswith("{")]
PRONOUN = {"m": ("he", "his"), "f": ("she", "her")}


def _words(*groups) -> list[str]:
    out: list[str] = []
    for g in groups:
        for item in g:
            out += list(item) if isinstance(item, tuple) else str(item).split()
    return out


@dataclass(frozen=True)
class Person:
    """One person's facts; `employer` names a company of the `World`."""

    first: str
    initial: str
    last: str
    gender: str  # "m" or "f" (pronouns)
    month: str
    day: str
    year: str
    birth_city: str
    university: tuple[str, ...]
    major: tuple[str, ...]
    employer: tuple[str, ...]

    @property
    def name(self) -> tuple[str, str, str]:
        return (self.first, self.initial, self.last)


class World:
    """The vocabulary, the companies and their headquarters (fixed by `seed`), and people."""

    def __init__(self, seed: int = 0, qa: bool = False):
        """`qa`: the vocabulary also holds the QA format's words (appended, so every other
        token keeps its id)."""
        rng = random.Random(f"bios-world-{seed}")
        self.companies = [(p, s) for p in _PREFIX for s in _SUFFIX]  # 160 two-word names
        self.hq = {c: rng.choice(CITIES) for c in self.companies}  # company -> city
        frame_words = [w for fs in FRAMES.values() for f in fs for w in f.split()
                       if not w.startswith("{")]
        words = _words(FIRST["m"], FIRST["f"], INITIALS, LAST, CITIES, UNIVERSITIES, MAJORS,
                       self.companies, MONTHS, DAYS, YEARS, frame_words, OPENERS, MIDS, CLOSERS,
                       *BEFORE_VALUE.values(), AFTER_VALUE,
                       ["he", "his", "she", "her", ".", ","])
        self.tokens = [PAD, DOC] + sorted(set(words) - {PAD, DOC})
        if qa:
            self.tokens += sorted(set(QA_WORDS) - set(self.tokens))
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id, self.doc_id = self.index[PAD], self.index[DOC]

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def person(self, rng: random.Random) -> Person:
        gender = rng.choice("mf")
        return Person(rng.choice(FIRST[gender]), rng.choice(INITIALS), rng.choice(LAST), gender,
                      rng.choice(MONTHS), rng.choice(DAYS), rng.choice(YEARS),
                      rng.choice(CITIES), rng.choice(UNIVERSITIES), rng.choice(MAJORS),
                      rng.choice(self.companies))

    def people(self, n: int, seed, split: str) -> list[Person]:
        """`n` people with distinct full names from name space `split` ("train" or "test": the
        two never share a full name, though both use every name token), drawn by `seed`."""
        if split not in ("train", "test"):
            raise ValueError(f"split={split!r}: must be 'train' or 'test'")
        if n > 10**6:
            raise ConfigError(f"{n} people: at most 10^6 distinct full names per split")
        rng, out, seen = random.Random(f"bios-people-{seed}-{split}"), [], set()
        while len(out) < n:
            p = self.person(rng)
            if p.name in seen or name_split(p.name) != split:
                continue
            seen.add(p.name)
            out.append(p)
        return out

    def encode(self, words) -> list[int]:
        return [self.index[w] for w in words]

    def decode(self, ids) -> str:
        return " ".join(self.tokens[int(i)] for i in ids if int(i) != self.pad_id)


def name_split(name: tuple[str, str, str]) -> str:
    """Which name space a full name belongs to: a fixed hash, so "train" and "test" people never
    share a full name."""
    h = sum((i + 1) * ord(c) for i, c in enumerate(" ".join(name)))
    return "test" if h % 2 else "train"


def frames(attribute: str, which: str) -> list[str]:
    """The frames of `attribute` a rendering may draw: "train" (all but the held-out ones),
    "held_out" (the last HELD_OUT_FRAMES) or "all"."""
    fs = FRAMES[attribute]
    if which == "train":
        return fs[:-HELD_OUT_FRAMES]
    if which == "held_out":
        return fs[-HELD_OUT_FRAMES:]
    if which == "all":
        return fs
    raise ValueError(f"frames={which!r}: must be 'train', 'held_out' or 'all'")


# distinct wordings of one person's sentence per attribute in training (the employer's city
# sentence has no subject)
SENTENCE_FORMS = {a: len(OPENERS) * len(MIDS) * len(frames(a, "train")) * len(CLOSERS)
                  * len(BEFORE_VALUE[a]) * len(AFTER_VALUE)
                  * (1 if a == "employer_city" else len(SUBJECTS)) for a in ATTRIBUTES}


def _value(person: Person, world: World, attribute: str) -> tuple[str, ...]:
    if attribute == "birth_city":
        return (person.birth_city,)
    if attribute == "employer_city":
        return (world.hq[person.employer],)
    return getattr(person, attribute)


def sentence(person: Person, world: World, attribute: str, frame: str, subject: str,
             opener: str = "", closer: str = "", mid: str = "", before: str = "",
             after: str = "") -> list[tuple[str, int]]:
    """One sentence as (word, kind) pairs, ending with '.'; `subject` is one of SUBJECTS (the
    first sentence of a document uses "full"), `mid` an adverb after the subject (after the
    company's name in the employer's city sentence), `before` and `after` words around the
    value (around the whole date)."""
    pron, poss = PRONOUN[person.gender]
    if subject == "pronoun" and frame.startswith("the ") and " of {S}" in frame:
        # "the birthday of she" -> "her birthday"
        frame = "{Sp} " + frame[4:].replace(" of {S}", "", 1)
    subj = {"full": list(person.name), "first_last": [person.first, person.last],
            "first": [person.first], "pronoun": [pron]}[subject]
    out: list[tuple[str, int]] = [(w, TEXT) for w in opener.split()]
    for word in frame.split():
        if word == "{S}":
            out += [(w, NAME if subject != "pronoun" else TEXT) for w in subj]
            out += [(w, TEXT) for w in mid.split()]
        elif word == "{Sp}":
            out.append((poss, TEXT))
        elif word == "{V}":
            out += [(w, TEXT) for w in before.split()]
            out += [(w, VALUE) for w in _value(person, world, attribute)]
            out += [(w, TEXT) for w in after.split()]
        elif word in ("{M}", "{D}", "{Y}"):
            out += [(w, TEXT) for w in before.split()] if word == "{M}" else []
            out.append(({"{M}": person.month, "{D}": person.day, "{Y}": person.year}[word],
                        VALUE))
            out += [(w, TEXT) for w in after.split()] if word == "{Y}" else []
        elif word == "{C}":
            out += [(w, TEXT) for w in person.employer] + [(w, TEXT) for w in mid.split()]
        else:
            out.append((word, TEXT))
    out += [(w, TEXT) for w in closer.split()] + [(".", TEXT)]
    return out


def orders(rng: random.Random, order: str) -> list[str]:
    """The attribute order of one document: canonical, or shuffled with the employer before the
    employer's city (the one fact-level dependency)."""
    if order == "canonical":
        return list(ATTRIBUTES)
    if order != "shuffled":
        raise ValueError(f"order={order!r}: must be 'canonical' or 'shuffled'")
    attrs = list(ATTRIBUTES)
    rng.shuffle(attrs)
    i, j = attrs.index("employer"), attrs.index("employer_city")
    if j < i:
        attrs[i], attrs[j] = attrs[j], attrs[i]
    return attrs


def render(person: Person, world: World, rng: random.Random, order: str = "canonical",
           which: str = "train") -> list[list[tuple[str, int]]]:
    """One biography: a list of sentences of (word, kind), every choice drawn from `rng`; the
    first sentence names the person in full, later ones use a random subject form."""
    doc = []
    for i, attribute in enumerate(orders(rng, order)):
        frame = rng.choice(frames(attribute, which))
        subject = "full" if i == 0 else rng.choice(SUBJECTS)
        doc.append(sentence(person, world, attribute, frame, subject, rng.choice(OPENERS),
                            rng.choice(CLOSERS), rng.choice(MIDS),
                            rng.choice(BEFORE_VALUE[attribute]), rng.choice(AFTER_VALUE)))
    return doc


def fresh_people(world: World, seed, split: str = "train"):
    """An endless stream of people with distinct full names from name space `split` (the
    non-repeating baseline: every document a new person)."""
    rng, seen = random.Random(f"bios-fresh-{seed}-{split}"), set()
    while True:
        p = world.person(rng)
        if p.name in seen or name_split(p.name) != split:
            continue
        seen.add(p.name)
        yield p


def words_and_kinds(doc: list[list[tuple[str, int]]]) -> tuple[list[str], list[int]]:
    """A rendered document flattened: its words and their kinds (TEXT, NAME, VALUE)."""
    return [w for s in doc for w, _ in s], [k for s in doc for _, k in s]


def qa_document(person: Person, world: World) -> list[list[tuple[str, int]]]:
    """The person's six facts as question-answer sentences, in `ATTRIBUTES` order: "where was
    Anna K. Smith born ? answer : Lisbon ." (the value's tokens are VALUE, the rest TEXT)."""
    out = []
    for attribute in ATTRIBUTES:
        words = [(w, TEXT) for w in QA_FRAMES[attribute].replace("{S}", " ".join(person.name))
                 .split()]
        value = ([person.month, person.day, ",", person.year] if attribute == "birth_date"
                 else list(_value(person, world, attribute)))
        out.append(words + [("answer", TEXT), (":", TEXT)]
                   + [(w, TEXT if w == "," else VALUE) for w in value] + [(".", TEXT)])
    return out
