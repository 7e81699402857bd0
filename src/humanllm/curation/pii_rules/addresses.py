"""Street addresses in English, Romance, Germanic, Nordic and Slavic forms, with their tails.

- English: house number, up to four names, a street suffix (``42 Elm Street``, ``350 Fifth Ave``),
  maybe a direction, a unit (``Apt 4B``) or a unit prefix (``Flat 2,``, ``Unit 4/12``);
- street type first: ``Calle Mayor 5``, ``Via Roma 10``, ``Rua Augusta, 1500``, ``ul. Długa 3``;
- number first: ``12 Rue de Rivoli``, ``5 avenue Victor Hugo``;
- one compound word: ``Hauptstraße 5``, ``Prinsengracht 263``, ``Drottninggatan 53``;
- ``P.O. Box 1234``;
- each followed by up to three tails: a postcode and/or a city and/or a state
  (``, Springfield, IL 62704``, ``, 75001 Paris``, ``, London NW1 6XE``, ``- São Paulo``);
- a tail on its own where its shape is unmistakable: ``City, ST 62704``, ``City, ON M5V 2T6``,
  ``Sydney NSW 2000``, or a UK postcode.
"""

from __future__ import annotations

import re

from humanllm.curation.pii_rules import LOWER, NAME, UPPER, Found

_HOUSE = r"\d{1,5}[A-Za-z]?(?:[/-]\d{1,5}[A-Za-z]?)?"
_PARTICLE = r"(?:de|del|de\s+la|des|du|da|do|das|dos|di|della|delle|dei|degli|van|von|der|den|la|le|les|el|l'|d')"
_STOP = r"(?!(?:But|And|I|The|So|Then|It|We|He|She|They|My|Our|Yes|No|Ok|Also|Which|That|This|If|When)\b)"
_WORD = rf"{_STOP}(?:{NAME}|\d{{1,3}}(?:st|nd|rd|th))(?!\w)"
_NAMES = rf"(?:{_PARTICLE}\s+)*{_WORD}(?:[ -](?:{_PARTICLE}\s+)*{_WORD}){{0,3}}"
#: street types written after the name: USPS standard suffixes and Australian road types, less
#: those common after "number + capitalised words" in prose (Park, Lake, Pass, Run, Route, Course,
#: Track, Stream, Reserve...); plurals only where Faker-style addresses use them and prose rarely does
_EN_SUFFIX = (
    r"(?:(?:Street|Court|Shoal|Harbor|Harbour|Height|Garden|Meadow|Mill|Ridge|Mountain|Terrace|"
    r"Grove|Square|Crescent|Manor|Estate|Valley|Creek|Spring|Well|Knoll|Hollow|Villa)s"
    r"|Street|Road|Avenue|Lane|Drive|Boulevard|Court|Place|Way|Terrace|Close|Crescent|Highway|"
    r"Parkway|Square|Row|Mews|Grove|Hill|Walk|Circle|Trail|Alley|Quay|Wharf|Arcade|Bayou|Bluff|"
    r"Brook|Bypass|Causeway|Cliff|Cove|Creek|Crest|Dale|Expressway|Ferry|Ford|Forest|Forge|"
    r"Freeway|Gateway|Glen|Harbor|Harbour|Haven|Inlet|Junction|Knoll|Loaf|Lodge|Manor|Meadow|Mill|"
    r"Motorway|Mountain|Neck|Orchard|Oval|Overpass|Pike|Plaza|Prairie|Ridge|Shoal|Shore|Skyway|"
    r"Stravenue|Throughway|Trafficway|Tunnel|Turnpike|Underpass|Viaduct|Vista|Parade|Promenade|"
    r"Esplanade|Walkway|Grange|Rise|Glade|Concourse|Boardwalk|Gardens|Heights|Beach"
    r"|St\.?|Rd\.?|Ave\.?|Ln\.?|Dr\.?|Blvd\.?|Ct\.?|Pl\.?|Hwy\.?|Pkwy\.?|Sq\.?|Cres\.?|Tce\.?|Pde\.?)"
)
_UNIT = r"(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|#)\s*\w+"
_DIRECTION = r"(?:North|South|East|West|NE|NW|SE|SW|N|S|E|W)\b"
#: street types written before the name (Spanish, Portuguese, Italian, Polish)
_TYPE_FIRST = (
    r"(?:(?i:calle|avenida|avda\.|paseo|plaza|carrera|camino|ronda|travesía|circuito|retorno|"
    r"calzada|cerrada|privada|callejón|andador|prolongación|periférico|diagonal|corredor|rua|"
    r"travessa|praça|largo|estrada|alameda|rodovia|sítio|favela|passarela|parque|viaduto|vila|"
    r"vereda|trecho|quadra|ladeira|beco|jardim|chácara|fazenda|via|viale|corso|piazza|piazzale|"
    r"vicolo|lungomare|strada|contrada|canale|incrocio|borgo|rotonda|traversa|ulica|aleja|plac|"
    r"osiedle|rondo|skwer)|C/|Av\.|ul\.|al\.|pl\.|os\.)"
)
_TYPE_AFTER_NUMBER = (
    r"(?i:rue|avenue|boulevard|bd\.?|place|allée|chemin|impasse|quai|route|cours|square)"
)
_COMPOUND = (
    r"(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|markt|gracht|straat|laan|plein|"
    r"steeg|kade|singel|gatan|gata|vägen|väg|gränd|torget|gade|vej|veien|gate)"
)
_GERMAN_TYPE = r"(?:Straße|Strasse|Str\.|Weg|Platz|Allee|Gasse|Ring|Damm)"
_POSTCODE = (
    r"(?:\d{5}(?:-\d{4})?|\d{5}-?\d{3}|\d{4}-\d{3}|\d{4}(?:\s?[A-Z]{2}\b)?|\d{3}\s\d{2}|\d{2}-\d{3}|\d{6}|"
    r"[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d|[A-Z]\d{2}\s?[A-Z\d]{4})(?!-?\d)"
)
_STATE = (
    r"(?:A[LKZR]|C[AOT]|D[EC]|FL|GA|HI|I[DLNA]|K[SY]|LA|M[EDAINSOT]|N[EVHJMYCD]|O[HKR]|PA|RI|S[CD]|"
    r"T[NX]|UT|V[TA]|W[AVIY]|ON|QC|BC|AB|MB|SK|NS|NB|NL|PE|NSW|VIC|QLD|WA|SA|TAS|ACT|NT)"
)
_CITY = (
    rf"{_WORD}(?:[ -](?:{_PARTICLE}\s+)?{_WORD}){{0,2}}(?:\s\d{{1,2}}\b)?"
    r"(?:\s\([A-Z]{2}\)|\s/\s[A-Z]{2}\b)?"  # a province (PZ) or a state / PB
)
_TAIL = (
    rf"(?:(?:,\s*|\s+-\s+|\s+)(?:{_POSTCODE},?\s+)?{_CITY}(?:,?\s+{_STATE}\b)?(?:,?\s+{_POSTCODE}\b)?"
    rf"|,?\s+{_POSTCODE}\b)"
)
_STREETS = [
    rf"(?:(?:Flat|Apt\.?|Unit|Suite)\s*\w+,?\s+)?(?:(?:Unit|Flat|No\.?)\s+)?\b{_HOUSE},?\s+(?:{_WORD}\s+){{1,4}}"
    rf"{_EN_SUFFIX}(?![\w])(?:\s+{_DIRECTION})?(?:,?\s+{_UNIT})?",
    rf"\b{_TYPE_FIRST}\s+{_NAMES},?\s+(?:n[º°o]\.?\s*)?{_HOUSE}\b",
    rf"\b{_HOUSE},?\s+{_TYPE_AFTER_NUMBER}\s+{_NAMES}",
    rf"\b[{UPPER}][{LOWER}]+{_COMPOUND}\s+{_HOUSE}\b",
    rf"\b{_WORD}\s+{_GERMAN_TYPE}\s+{_HOUSE}\b",
    r"\bP\.?\s?O\.?\s?Box\s+\d{1,6}\b",
]
_STREET = re.compile(rf"(?:{'|'.join(_STREETS)})(?:{_TAIL}){{0,3}}")
_LONE_TAIL = re.compile(
    rf"\b{_CITY},?\s+{_STATE}\s+(?:\d{{5}}(?:-\d{{4}})?|\d{{4}}|[A-Z]\d[A-Z]\s?\d[A-Z]\d)\b"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b"
)


def _end(text: str, start: int, end: int) -> int:
    """Leave a sentence's full stop out of the span (``Madrid.``), not an abbreviation's (``St.``)."""
    if (
        text[end - 1] == "."
        and len(re.findall(r"[^\W\d_]+$", text[start : end - 1])[-1:] or [""]) > 3
    ):
        return end - 1
    return end


def find_addresses(text: str) -> list[Found]:
    out: list[Found] = []
    for pattern in (_STREET, _LONE_TAIL):
        for m in pattern.finditer(text):
            out.append(Found(m.start(), _end(text, m.start(), m.end()), "address", 1))
    return out
