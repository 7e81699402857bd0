"""Writes the PII evaluation sets under ``tests/curation/pii_data/`` (run once; the files are committed).

Two sets of natural sentences with planted PII, each planted string recorded with its exact span
and kind, and two sets of PII-free, number-heavy sentences:

- ``pii_tuning.jsonl`` / ``pii_free_tuning.jsonl``: the sets the rules in ``curation/pii*`` were
  written against. Formats of the US, the UK, France, Spain and Germany.
- ``pii_external.jsonl``: the held-out frames filled with values from Faker's locale providers for
  the held-out countries (formats written by Faker's authors, not by the author of the rules);
  measured, never tuned on.
- ``pii_heldout.jsonl`` / ``pii_free_heldout.jsonl``: other sentence frames and other countries'
  formats (Italy, the Netherlands, Brazil/Portugal, Canada, Australia, India, Sweden, Poland,
  Mexico, Ireland), and other shapes of the universal kinds (bare domains, IP hosts, Amex groups,
  ungrouped cards). Only the measurement reads them.

Kinds: ``email``, ``phone``, ``url``, ``address`` (street, number, and the postcode/city tail when
present), ``card`` (Luhn-valid card numbers) and ``id_number`` (national ids, passports, licences,
tax numbers, IBANs, and card-shaped numbers that fail Luhn). Each row::

    {"id": "h-0001", "text": "...", "spans": [{"start": 10, "end": 26, "kind": "phone", "format": "it_mobile"}]}

Usage: ``python tests/curation/make_pii_sets.py`` (fixed seeds; the output is the same every run).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).parent / "pii_data"
Gen = Callable[[random.Random], str]


def digits(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


def nz(r: random.Random, n: int) -> str:
    """``n`` digits, the first not zero."""
    return r.choice("123456789") + digits(r, n - 1)


def letters(r: random.Random, n: int) -> str:
    return "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(n))


def luhn_complete(body: str) -> str:
    """``body`` plus the check digit that makes it pass Luhn."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def luhn_broken(body: str) -> str:
    good = luhn_complete(body)
    return good[:-1] + str((int(good[-1]) + 1 + int(body[-1]) % 8) % 10)


def group(s: str, sizes: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for n in sizes:
        out.append(s[i : i + n])
        i += n
    return sep.join(out)


def pick(*options: str) -> Gen:
    return lambda r: r.choice(options)


FIRST = ["anna", "marco", "sofia", "liam", "noah", "emma", "lucas", "mia", "ravi", "chen", "olga"]
LAST = ["rossi", "jansen", "silva", "tremblay", "nguyen", "sharma", "berg", "nowak", "garcia"]


# ---------------------------------------------------------------- tuning formats (US/UK/FR/ES/DE)
def t_email(r: random.Random) -> str:
    f, la = r.choice(FIRST), r.choice(LAST)
    return r.choice(
        [
            f"{f}.{la}{r.randint(1, 99)}@gmail.com",
            f"{f[0]}_{la}@outlook.co.uk",
            f"{f}+shop@yahoo.com",
            f"{la}@my-company.org",
            f"{f}.{la}@orange.fr",
            f"{f}{r.randint(70, 99)}@web.de",
        ]
    )


T_PHONE: dict[str, Gen] = {
    "us_paren": lambda r: f"({nz(r, 3)}) {nz(r, 3)}-{digits(r, 4)}",
    "us_dash": lambda r: f"{nz(r, 3)}-{nz(r, 3)}-{digits(r, 4)}",
    "us_intl": lambda r: f"+1 {nz(r, 3)} {nz(r, 3)} {digits(r, 4)}",
    "us_dot": lambda r: f"{nz(r, 3)}.{nz(r, 3)}.{digits(r, 4)}",
    "uk_intl": lambda r: f"+44 20 {nz(r, 4)} {digits(r, 4)}",
    "uk_mobile": lambda r: f"07{digits(r, 3)} {digits(r, 6)}",
    "uk_london": lambda r: f"020 {nz(r, 4)} {digits(r, 4)}",
    "fr_intl": lambda r: f"+33 {r.randint(1, 9)} " + " ".join(digits(r, 2) for _ in range(4)),
    "fr_nat": lambda r: f"0{r.randint(1, 7)} " + " ".join(digits(r, 2) for _ in range(4)),
    "de_intl": lambda r: f"+49 30 {nz(r, 6)}",
    "de_nat": lambda r: f"030 {nz(r, 7)}",
    "es_intl": lambda r: f"+34 6{digits(r, 2)} {digits(r, 3)} {digits(r, 3)}",
}

T_URL: dict[str, Gen] = {
    "https_path": lambda r: f"https://www.{r.choice(LAST)}-shop.com/item/{digits(r, 5)}?ref=mail",
    "http": lambda r: (
        f"http://{r.choice(FIRST)}blog.net/{r.randint(2010, 2024)}/{digits(r, 2)}/trip"
    ),
    "www": lambda r: f"www.{r.choice(LAST)}{r.choice(['.co.uk', '.fr', '.de', '.es'])}",
    "https_root": lambda r: f"https://{r.choice(FIRST)}{r.choice(LAST)}.com",
}

T_CARD: dict[str, Gen] = {
    "visa_space": lambda r: group(luhn_complete("4" + digits(r, 14)), (4, 4, 4, 4), " "),
    "mc_dash": lambda r: group(luhn_complete("5" + nz(r, 1) + digits(r, 13)), (4, 4, 4, 4), "-"),
}

T_ID: dict[str, Gen] = {
    "us_ssn": lambda r: f"{nz(r, 3)}-{nz(r, 2)}-{nz(r, 4)}",
    "us_passport_9": lambda r: nz(r, 9),
    "letter_passport": lambda r: letters(r, 1) + nz(r, 8),
    "uk_nino": lambda r: (
        f"{letters(r, 2)} {digits(r, 2)} {digits(r, 2)} {digits(r, 2)} {r.choice('ABCD')}"
    ),
    "uk_licence": lambda r: letters(r, 5) + nz(r, 6) + letters(r, 2) + digits(r, 1) + letters(r, 2),
    "fr_insee": lambda r: (
        f"{r.randint(1, 2)} {digits(r, 2)} {digits(r, 2)} {digits(r, 2)} {digits(r, 3)} {digits(r, 3)} {digits(r, 2)}"
    ),
    "de_ausweis": lambda r: (
        letters(r, 1) + nz(r, 2) + letters(r, 1) + digits(r, 2) + letters(r, 1) + digits(r, 2)
    ),
    "es_dni": lambda r: nz(r, 8) + letters(r, 1),
    "es_nie": lambda r: r.choice("XYZ") + nz(r, 7) + letters(r, 1),
    "card_no_luhn_space": lambda r: group(luhn_broken("4" + digits(r, 14)), (4, 4, 4, 4), " "),
    "iban_de": lambda r: group("DE" + digits(r, 20), (4, 4, 4, 4, 4, 2), " "),
    "iban_gb": lambda r: group(
        "GB" + digits(r, 2) + letters(r, 4) + digits(r, 14), (4, 4, 4, 4, 4, 2), " "
    ),
}

T_STREETS_EN = ["Elm", "Maple", "Baker", "Kings", "Oak", "Old Mill", "Church", "Victoria", "Park"]
T_SUFFIX_EN = ["Street", "St", "Road", "Rd.", "Avenue", "Ave", "Lane", "Drive", "Blvd", "Court"]
T_US_CITIES = [("Springfield", "IL", "627"), ("Austin", "TX", "787"), ("Denver", "CO", "802")]
T_UK = [("London", "NW1 6XE"), ("Leeds", "LS1 4AP"), ("Bristol", "BS1 5TR")]

T_ADDRESS: dict[str, Gen] = {
    "us_street": lambda r: f"{r.randint(1, 9999)} {r.choice(T_STREETS_EN)} {r.choice(T_SUFFIX_EN)}",
    "us_full": lambda r: (
        lambda c: (
            f"{r.randint(1, 9999)} {r.choice(T_STREETS_EN)} {r.choice(T_SUFFIX_EN)}, "
            f"{r.choice(['Apt 4B, ', 'Suite 200, ', ''])}{c[0]}, {c[1]} {c[2]}{digits(r, 2)}"
        )
    )(r.choice(T_US_CITIES)),
    "us_city_tail": lambda r: (lambda c: f"{c[0]}, {c[1]} {c[2]}{digits(r, 2)}")(
        r.choice(T_US_CITIES)
    ),
    "uk_full": lambda r: (
        lambda c: (
            f"{r.randint(1, 300)}{r.choice(['', 'B'])} {r.choice(T_STREETS_EN)} {r.choice(['Street', 'Road', 'Lane'])}, {c[0]} {c[1]}"
        )
    )(r.choice(T_UK)),
    "uk_flat": lambda r: (
        f"Flat {r.randint(1, 20)}, {r.randint(1, 99)} {r.choice(T_STREETS_EN)} Road"
    ),
    "fr_rue": lambda r: (
        f"{r.randint(1, 150)} {r.choice(['Rue', 'rue', 'Avenue', 'Boulevard', 'Place'])} {r.choice(['de Rivoli', 'Victor Hugo', 'des Lilas', 'du Bac', 'de la Paix'])}"
    ),
    "fr_full": lambda r: (
        f"{r.randint(1, 150)} rue {r.choice(['de Rivoli', 'Oberkampf', 'du Faubourg Saint-Antoine'])}, 750{digits(r, 2)} Paris"
    ),
    "es_calle": lambda r: (
        f"{r.choice(['Calle', 'Avenida', 'Paseo', 'Plaza'])} {r.choice(['Mayor', 'de Gracia', 'de la Constitución', 'del Prado'])} {r.randint(1, 200)}"
    ),
    "es_full": lambda r: (
        f"Calle {r.choice(['Mayor', 'Alcalá', 'Serrano'])} {r.randint(1, 200)}, 280{digits(r, 2)} Madrid"
    ),
    "de_strasse": lambda r: (
        f"{r.choice(['Haupt', 'Goethe', 'Schiller', 'Friedrich', 'Linden'])}{r.choice(['straße', 'strasse', 'str.', 'weg', 'platz', 'allee'])} {r.randint(1, 200)}{r.choice(['', 'a'])}"
    ),
    "de_full": lambda r: (
        f"{r.choice(['Bahnhof', 'Garten', 'Berg'])}straße {r.randint(1, 99)}, {nz(r, 5)} {r.choice(['Berlin', 'München', 'Köln'])}"
    ),
}


T_FRAMES = [
    "Honestly I was furious when my landlord texted me again. {} is what he wrote on the form, can you believe it?",
    "If anyone from the meetup wants to reach me, it's {} - I check it most evenings after work.",
    "My mom still lives at {} and every Sunday I drive over, even when I'm exhausted.",
    "I wrote {} on the back of the receipt so I wouldn't forget, and then of course I lost the receipt.",
    "The clerk asked for {} twice before the system finally accepted it.",
    "Posting this so I remember: {}. Yes, I know, I should use a password manager.",
]
T_CONTEXT = {
    "email": ["my email {}", "write to {}", "{}"],
    "phone": ["call me on {}", "my number is {}", "{}"],
    "url": ["see {}", "my site {}", "{}"],
    "card": ["card number {}", "my Visa {}", "{}"],
    "id_number": ["my ID number {}", "passport number {}", "{}"],
    "address": ["{}", "the flat at {}", "{}"],
}


# ---------------------------------------------------------------- held-out formats (other countries)
def h_email(r: random.Random) -> str:
    f, la = r.choice(FIRST), r.choice(LAST)
    return r.choice(
        [
            f"{f[0]}.{la}@wp.pl",
            f"info@pizzeria-{la}.it",
            f"{f}_{la[0]}{r.randint(1980, 2005)}@rediffmail.com",
            f"{f}.{la}@mail.uni-{la}.nl",
            f"{la.upper()}.{f.capitalize()}@Bigpond.com.au",
            f"{f}-{la}@terra.com.br",
            f"{f}{la}@telia.se",
        ]
    )


H_PHONE: dict[str, Gen] = {
    "it_intl": lambda r: f"+39 06 {nz(r, 4)} {digits(r, 4)}",
    "it_mobile": lambda r: f"3{digits(r, 2)} {digits(r, 3)} {digits(r, 4)}",
    "nl_intl": lambda r: f"+31 20 {nz(r, 3)} {digits(r, 4)}",
    "nl_mobile": lambda r: f"06-{nz(r, 8)}",
    "br_intl": lambda r: f"+55 11 9{digits(r, 4)}-{digits(r, 4)}",
    "br_nat": lambda r: f"(11) 9{digits(r, 4)}-{digits(r, 4)}",
    "ca": lambda r: f"{r.choice(['416', '604', '514'])}-{nz(r, 3)}-{digits(r, 4)}",
    "au_paren": lambda r: f"(0{r.choice('2378')}) {nz(r, 4)} {digits(r, 4)}",
    "au_mobile": lambda r: f"04{digits(r, 2)} {digits(r, 3)} {digits(r, 3)}",
    "in_intl": lambda r: f"+91 {r.choice('6789')}{digits(r, 4)} {digits(r, 5)}",
    "se_nat": lambda r: f"08-{nz(r, 3)} {digits(r, 3)} {digits(r, 2)}",
    "pl_intl": lambda r: f"+48 22 {nz(r, 3)} {digits(r, 2)} {digits(r, 2)}",
    "pl_mobile": lambda r: f"{r.choice('5678')}{digits(r, 2)} {digits(r, 3)} {digits(r, 3)}",
    "ie_intl": lambda r: f"+353 1 {nz(r, 3)} {digits(r, 4)}",
}

H_URL: dict[str, Gen] = {
    "bare_path": lambda r: f"instagram.com/{r.choice(FIRST)}_{r.choice(LAST)}",
    "https_ip": lambda r: f"https://192.168.{r.randint(0, 9)}.{r.randint(2, 250)}:8080/admin",
    "https_query": lambda r: (
        f"https://forms.{r.choice(LAST)}.it/apply?user={r.choice(FIRST)}&id={digits(r, 6)}"
    ),
    "www_path": lambda r: f"www.{r.choice(LAST)}.com.br/contato",
    "http_sub": lambda r: f"http://blog.{r.choice(FIRST)}.nl/over-mij",
    "bare_short": lambda r: f"bit.ly/{letters(r, 3)}{digits(r, 2)}x",
}

H_CARD: dict[str, Gen] = {
    "amex_465": lambda r: group(luhn_complete("37" + digits(r, 12)), (4, 6, 5), " "),
    "ungrouped_16": lambda r: luhn_complete("6011" + digits(r, 11)),
    "visa_dash": lambda r: group(luhn_complete("4" + digits(r, 14)), (4, 4, 4, 4), "-"),
}

H_ID: dict[str, Gen] = {
    "it_codice_fiscale": lambda r: (
        letters(r, 6)
        + digits(r, 2)
        + letters(r, 1)
        + digits(r, 2)
        + letters(r, 1)
        + digits(r, 3)
        + letters(r, 1)
    ),
    "it_passport": lambda r: letters(r, 2) + nz(r, 7),
    "nl_bsn": lambda r: nz(r, 9),
    "br_cpf": lambda r: f"{nz(r, 3)}.{digits(r, 3)}.{digits(r, 3)}-{digits(r, 2)}",
    "ca_sin": lambda r: f"{nz(r, 3)} {digits(r, 3)} {digits(r, 3)}",
    "ca_licence": lambda r: f"{letters(r, 1)}{digits(r, 4)}-{digits(r, 5)}-{digits(r, 5)}",
    "au_passport": lambda r: letters(r, 1) + nz(r, 7),
    "au_medicare": lambda r: f"{r.choice('23456')}{digits(r, 3)} {digits(r, 5)} {r.randint(1, 9)}",
    "in_aadhaar": lambda r: f"{r.choice('23456789')}{digits(r, 3)} {digits(r, 4)} {digits(r, 4)}",
    "in_pan": lambda r: letters(r, 5) + nz(r, 4) + letters(r, 1),
    "se_personnummer": lambda r: (
        f"{r.randint(19, 20)}{digits(r, 2)}{r.randint(10, 12)}{r.randint(10, 28)}-{digits(r, 4)}"
    ),
    "pl_pesel": lambda r: nz(r, 11),
    "mx_curp": lambda r: (
        letters(r, 4) + digits(r, 6) + r.choice("HM") + letters(r, 5) + digits(r, 2)
    ),
    "ie_ppsn": lambda r: nz(r, 7) + letters(r, 1),
    "card_no_luhn_dash": lambda r: group(
        luhn_broken("5" + nz(r, 1) + digits(r, 13)), (4, 4, 4, 4), "-"
    ),
    "iban_it": lambda r: group(
        "IT" + digits(r, 2) + letters(r, 1) + digits(r, 22), (4, 4, 4, 4, 4, 4, 3), " "
    ),
    "iban_nl_compact": lambda r: "NL" + digits(r, 2) + letters(r, 4) + digits(r, 10),
}

H_IT = [
    ("Via", "Roma", "00184", "Roma"),
    ("Corso", "Buenos Aires", "20124", "Milano"),
    ("Piazza", "Navona", "00186", "Roma"),
    ("Viale", "dei Mille", "50131", "Firenze"),
]
H_ADDRESS: dict[str, Gen] = {
    "it_via": lambda r: (lambda a: f"{a[0]} {a[1]} {r.randint(1, 120)}")(r.choice(H_IT)),
    "it_full": lambda r: (lambda a: f"{a[0]} {a[1]} {r.randint(1, 120)}, {a[2]} {a[3]}")(
        r.choice(H_IT)
    ),
    "nl_gracht": lambda r: f"{r.choice(['Prinsen', 'Keizers', 'Heren'])}gracht {r.randint(1, 999)}",
    "nl_full": lambda r: (
        f"{r.choice(['Dam', 'Kerk', 'Molen'])}straat {r.randint(1, 99)}, {nz(r, 4)} {letters(r, 2)} {r.choice(['Amsterdam', 'Utrecht'])}"
    ),
    "br_rua": lambda r: (
        f"{r.choice(['Rua', 'Avenida'])} {r.choice(['Augusta', 'Paulista', 'das Flores', 'Oscar Freire'])}, {r.randint(10, 2500)}"
    ),
    "pt_full": lambda r: (
        f"Rua {r.choice(['Augusta', 'do Ouro', 'da Prata'])} {r.randint(1, 300)}, {nz(r, 4)}-{digits(r, 3)} Lisboa"
    ),
    "ca_full": lambda r: (
        f"{r.randint(1, 999)} {r.choice(['King', 'Queen', 'Yonge'])} Street {r.choice(['West', 'East'])}, Toronto, ON M5V {r.randint(1, 9)}T{r.randint(1, 9)}"
    ),
    "au_unit": lambda r: (
        f"Unit {r.randint(1, 30)}/{r.randint(1, 200)} {r.choice(['George', 'Pitt', 'Collins'])} St, Sydney NSW 2000"
    ),
    "se_gatan": lambda r: (
        f"{r.choice(['Drottning', 'Kungs', 'Stor'])}gatan {r.randint(1, 99)}, 111 {digits(r, 2)} Stockholm"
    ),
    "pl_ul": lambda r: (
        f"ul. {r.choice(['Marszałkowska', 'Piękna', 'Długa'])} {r.randint(1, 150)}, 00-{digits(r, 3)} Warszawa"
    ),
    "mx_av": lambda r: (
        f"Av. {r.choice(['Insurgentes Sur', 'Reforma', 'Juárez'])} {r.randint(100, 2000)}, Col. {r.choice(['Roma Norte', 'Condesa'])}"
    ),
    "ie_full": lambda r: (
        f"{r.randint(1, 99)} {r.choice(['Grafton', 'Dame', 'Capel'])} Street, Dublin {r.randint(1, 8)}"
    ),
    "us_tail_other": lambda r: (
        f"{r.choice(['Portland', 'Madison', 'Columbus'])}, {r.choice(['OR', 'WI', 'OH'])} {nz(r, 5)}-{digits(r, 4)}"
    ),
    "po_box": lambda r: f"P.O. Box {r.randint(10, 9999)}",
    "in_road": lambda r: (
        f"{r.randint(1, 99)}, {r.choice(['MG', 'Brigade', 'Linking'])} Road, {r.choice(['Bengaluru', 'Mumbai'])} {r.choice('45')}{digits(r, 5)}"
    ),
}

H_FRAMES = [
    "ok so the courier app wants {} before it lets me book, which seems excessive for a parcel",
    "Reminder to self - {} - do NOT lose this again lol",
    "My cousin sent me {} in the group chat and now half the family has it.",
    "Filling in the visa paperwork tonight; they want {} and three photos, of course.",
    "lol the bank literally read {} out loud in the queue",
    "For the record, {} belongs to my old flatmate, not me.",
    "Can someone tell me if it's safe to share {} with a landlord I found online?",
]
H_CONTEXT = {
    "email": ["reach me at {}", "mail: {}", "{}"],
    "phone": ["ring {}", "WhatsApp {}", "tel. {}", "{}"],
    "url": ["my page {}", "link: {}", "{}"],
    "card": ["the card {}", "card no. {}", "{}"],
    "id_number": ["{}", "my passport no. {}", "tax code {}", "licence {}", "ID {}"],
    "address": ["{}", "we moved to {}", "post it to {}"],
}

# ---------------------------------------------------------------- PII-free, number-heavy sentences
FREE_TUNING: list[Gen] = [
    lambda r: (
        f"I bought a {r.randint(1, 7)} Day Pass and watched {r.randint(2, 9)} Live Streams in {r.randint(2, 5)} Golf Courses."
    ),
    lambda r: (
        f"We met at {r.randint(8, 11)}:30 on 2019-0{r.randint(1, 9)}-{r.randint(10, 28)} and talked for 3 hours."
    ),
    lambda r: (
        f"The log says 2019-05-{r.randint(10, 28)} {r.randint(10, 23)}:{r.randint(10, 59)} when the update failed."
    ),
    lambda r: (
        f"Windows reports version 10.0.{r.randint(19041, 22631)}.{r.randint(1000, 4000)} after the patch."
    ),
    lambda r: f"The dam holds {r.randint(100, 900)} 000 000 litres, apparently.",
    lambda r: f"They won {r.randint(95, 120)}-{r.randint(80, 94)} in overtime and I lost my voice.",
    lambda r: (
        f"The video hit {r.randint(1, 9)},{digits(r, 3)},{digits(r, 3)} views by 0{r.randint(1, 9)}.0{r.randint(1, 9)}.2021."
    ),
    lambda r: (
        f"In {r.randint(1950, 2020)} my grandpa bought the house for ${r.randint(10, 99)},{digits(r, 3)}."
    ),
    lambda r: (
        f"I ran {r.randint(3, 42)} km in {r.randint(20, 59)} minutes, my best time since {r.randint(2000, 2020)}!"
    ),
    lambda r: (
        f"Tickets were {r.randint(10, 99)}.99 each, row {r.randint(1, 40)}, seats {r.randint(1, 20)} and {r.randint(21, 40)}."
    ),
    lambda r: (
        f"The deadline moved from 1{r.randint(0, 2)}/0{r.randint(1, 9)}/2023 to the {r.randint(10, 28)}th."
    ),
    lambda r: (
        f"Our city has {r.randint(100, 999)} {digits(r, 3)} {digits(r, 3)} people now, up {r.randint(1, 9)}.{r.randint(1, 9)}% since 2010."
    ),
    lambda r: (
        f"Python {r.randint(3, 3)}.{r.randint(8, 13)}.{r.randint(0, 9)} broke my build at {r.randint(10, 23)}:{r.randint(10, 59)} last night."
    ),
]

FREE_HELDOUT: list[Gen] = [
    lambda r: (
        f"I read {r.randint(2, 7)} Harry Potter books and ate {r.randint(2, 9)} Happy Meals in {r.randint(2, 5)} Summer Holidays."
    ),
    lambda r: (
        f"He hit {r.randint(2, 60)} Home Runs and {r.randint(2, 9)} Grand Slams in {r.randint(1990, 2023)}."
    ),
    lambda r: (
        f"Kick-off {r.randint(10, 28)}.0{r.randint(1, 9)}.2024 {r.randint(10, 21)}:{r.choice(['00', '15', '30', '45'])}, doors open an hour before."
    ),
    lambda r: (
        f"Build {r.randint(5, 6)}.{r.randint(1, 9)}.{r.randint(7600, 9600)}.{r.randint(10000, 22000)} still crashes on my laptop."
    ),
    lambda r: (
        f"The national debt is about {r.randint(1, 30)} {digits(r, 3)} {digits(r, 3)} {digits(r, 3)} euros, roughly."
    ),
    lambda r: (
        f"Final score {r.randint(100, 130)}-{r.randint(90, 99)}, then {r.randint(2, 5)}-{r.randint(0, 1)} in the second game."
    ),
    lambda r: f"That channel has {nz(r, 7)} subscribers and {nz(r, 9)} total views.",
    lambda r: (
        f"Chrome {r.randint(110, 130)}.0.{r.randint(5000, 6999)}.{r.randint(10, 200)} fixed the bug from {r.randint(2018, 2023)}."
    ),
    lambda r: (
        f"The ISBN is 978-{r.randint(0, 9)}-{digits(r, 2)}-{digits(r, 6)}-{r.randint(0, 9)}, second edition."
    ),
    lambda r: (
        f"Pi to fifteen places is 3.{digits(r, 15)} and I memorised it at {r.randint(10, 16)}."
    ),
    lambda r: (
        f"Screen is {r.choice(['1920x1080', '2560x1440', '3840x2160'])} at {r.choice(['60', '144', '165'])} Hz, and it cost €{r.randint(100, 999)},{digits(r, 2)}."
    ),
    lambda r: (
        f"From {r.randint(1990, 2000)}-{r.randint(2001, 2010)} we lived abroad; {r.randint(20, 80)}% of that in Asia."
    ),
    lambda r: (
        f"The meeting is 0{r.randint(1, 9)}/{r.randint(10, 28)}/2022 at {r.randint(1, 12)}:{r.randint(10, 59)} pm, room {r.randint(100, 999)}."
    ),
    lambda r: (
        f"About {r.randint(1, 8)},{digits(r, 3)},{digits(r, 3)},{digits(r, 3)} people live on Earth; {r.randint(1, 9)}.{r.randint(1, 9)} billion in Asia."
    ),
    lambda r: f"Coordinates 48.{digits(r, 4)}, 2.{digits(r, 4)} - that's where we parked.",
    lambda r: (
        f"Recorded on {r.randint(2015, 2023)}/{r.randint(10, 12)}/{r.randint(10, 28)} {r.randint(10, 23)}:{r.randint(10, 59)}:{r.randint(10, 59)}, runtime {r.randint(1, 2)}:{r.randint(10, 59)}:{r.randint(10, 59)}."
    ),
    lambda r: (
        f"The population grew from {r.randint(100, 400)}.{digits(r, 3)}.{digits(r, 3)} to {r.randint(401, 900)}.{digits(r, 3)}.{digits(r, 3)} in {r.randint(10, 40)} years."
    ),
    lambda r: (
        f"We need {r.randint(2, 9)}{r.choice(['0', '5'])}000000 dollars to finish the stadium by {r.randint(2025, 2030)}."
    ),
]


def planted_rows(
    prefix: str,
    seed: int,
    n: int,
    frames: list[str],
    context: dict[str, list[str]],
    kinds: dict[str, dict[str, Gen]],
) -> list[dict[str, object]]:
    r = random.Random(seed)
    fmts = [(kind, name, gen) for kind, gens in kinds.items() for name, gen in gens.items()]
    by_kind = [[f for f in fmts if f[0] == kind] for kind in kinds]
    rows: list[dict[str, object]] = []
    for i in range(n):
        # one or two planted strings a row; the kinds take turns, and each kind's formats too
        own = by_kind[i % len(by_kind)]
        chosen = [own[(i // len(by_kind)) % len(own)]]
        if r.random() < 0.4:
            chosen.append(r.choice(fmts))
        pieces: list[tuple[str, str, str]] = []
        for kind, name, gen in chosen:
            pieces.append((kind, name, gen(r)))
        frame = frames[(i // len(by_kind) + i) % len(frames)]
        spans: list[dict[str, object]] = []
        filled: list[str] = []
        for kind, _name, value in pieces:
            filled.append(r.choice(context[kind]).replace("{}", "\x00" + value + "\x01"))
        body = frame.replace("{}", " and ".join(filled), 1)
        text = ""
        for ch in body:
            if ch == "\x00":
                start = len(text)
            elif ch == "\x01":
                spans.append({"start": start, "end": len(text)})
            else:
                text += ch
        for span, (kind, name, value) in zip(spans, pieces, strict=True):
            assert text[int(str(span["start"])) : int(str(span["end"]))] == value
            span.update(kind=kind, format=name)
        rows.append({"id": f"{prefix}-{i:04d}", "text": text, "spans": spans})
    return rows


def free_rows(prefix: str, seed: int, n: int, gens: list[Gen]) -> list[dict[str, object]]:
    r = random.Random(seed)
    return [
        {"id": f"{prefix}-{i:04d}", "text": gens[i % len(gens)](r), "spans": []} for i in range(n)
    ]


EXTERNAL_LOCALES = [
    "it_IT",
    "nl_NL",
    "pt_BR",
    "en_CA",
    "en_AU",
    "en_IN",
    "sv_SE",
    "pl_PL",
    "es_MX",
    "en_IE",
]


def external_kinds(locale: str) -> dict[str, dict[str, Gen]]:
    """Values from Faker's locale providers (formats written by others, not by the rules' author).

    Faker is needed only to regenerate ``pii_external.jsonl`` (``pip install faker``); its own
    random state is seeded from ``r`` so the file is the same every run.
    """
    from faker import Faker

    fk = Faker(locale)

    def via(method: str, *args: object) -> Gen:
        def gen(r: random.Random) -> str:
            fk.seed_instance(r.getrandbits(32))
            return str(getattr(fk, method)(*args)).replace("\n", ", ")

        return gen

    ids = {"ssn": via("ssn"), "passport": via("passport_number"), "iban": via("iban")}
    extra = {"en_IN": "aadhaar_id", "es_MX": "curp", "pt_BR": "cpf"}
    if locale in extra:
        ids[extra[locale]] = via(extra[locale])
    return {
        "email": {"email": via("email"), "free_email": via("free_email")},
        "phone": {"phone_number": via("phone_number")},
        "url": {"url": via("url"), "uri": via("uri")},
        "card": {"credit_card_number": via("credit_card_number")},
        "id_number": ids,
        "address": {"address": via("address"), "street_address": via("street_address")},
    }


def external_rows(seed: int, per_locale: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for k, locale in enumerate(EXTERNAL_LOCALES):
        part = planted_rows(
            f"x-{locale}", seed + k, per_locale, H_FRAMES, H_CONTEXT, external_kinds(locale)
        )
        for row in part:
            for span in row["spans"]:  # type: ignore[attr-defined]
                span["format"] = f"{locale}/{span['format']}"
        rows += part
    return rows


def write(name: str, rows: list[dict[str, object]]) -> None:
    OUT.mkdir(exist_ok=True)
    with open(OUT / name, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    tuning = {
        "email": {"webmail": t_email},
        "phone": T_PHONE,
        "url": T_URL,
        "card": T_CARD,
        "id_number": T_ID,
        "address": T_ADDRESS,
    }
    heldout = {
        "email": {"webmail": h_email},
        "phone": H_PHONE,
        "url": H_URL,
        "card": H_CARD,
        "id_number": H_ID,
        "address": H_ADDRESS,
    }
    write("pii_tuning.jsonl", planted_rows("t", 11, 300, T_FRAMES, T_CONTEXT, tuning))
    write("pii_heldout.jsonl", planted_rows("h", 29, 400, H_FRAMES, H_CONTEXT, heldout))
    write("pii_free_tuning.jsonl", free_rows("ft", 13, 240, FREE_TUNING))
    write("pii_free_heldout.jsonl", free_rows("fh", 31, 320, FREE_HELDOUT))
    write("pii_external.jsonl", external_rows(47, 36))


if __name__ == "__main__":
    main()
