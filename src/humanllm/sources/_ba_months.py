"""Month names for the Blogger ``<date>DD,Month,YYYY</date>`` tags (private to the Blogger reader).

Blogger wrote the month in the blog's interface language, so the corpus holds 79 distinct month
tokens. The table covers, in nominative and (where the language inflects) genitive form:
English, German, Dutch, French, Spanish, Catalan, Portuguese, Italian, Romanian, Swedish,
Norwegian, Danish, Icelandic, Finnish, Estonian, Latvian, Lithuanian, Polish, Czech, Slovak,
Hungarian, Turkish, Indonesian/Malay, Tagalog, Russian (Cyrillic), plus common abbreviations.
Croatian is left out on purpose: its ``listopad`` (October) clashes with Polish/Czech
``listopad`` (November).

:func:`month_number` matches, in order:
1. exactly, case- and accent-insensitively (``Março`` = ``marco``, ``août`` = ``aout``);
2. after repairing UTF-8 read as cp1252 (``MÃ¤rz`` -> ``März``);
3. with ``?`` / U+FFFD standing for one lost character or byte pair (``M?rz``);
4. by the longest common prefix (at least 3 letters) with a known name, when every name sharing
   that longest prefix means the same month (``Aprill``, ``Septmber``, ``Dezembre``).
It returns ``(month, exact)`` or ``None``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NAMES: dict[int, str] = {
    1: "january jan januar januari janvier enero gener janeiro gennaio ianuarie janúar "
    "tammikuu jaanuar janvāris sausis sausio styczeń stycznia leden ledna január januára ocak "
    "januari enero janwaryo январь января",
    2: "february feb februar februari février febrero febrer fevereiro febbraio februarie "
    "febrúar helmikuu veebruar februāris vasaris vasario luty lutego únor února február "
    "februára şubat pebrero февраль февраля",
    3: "march mar märz maerz maart mars marzo març março marzo martie "
    "marts maaliskuu märts marts kovas kovo marzec marca březen března március marec marca "
    "mart maret mac marso март марта",
    4: "april apr avril abril aprile aprilie apríl huhtikuu aprill aprīlis balandis balandžio "
    "kwiecień kwietnia duben dubna április apríl nisan abril апрель апреля",
    5: "may mai mei mayo maig maio maggio mai maí maj toukokuu maijs gegužė gegužės maja květen "
    "května május máj mája mayıs mayo май мая",
    6: "june jun juni juin junio juny junho giugno iunie júní kesäkuu juuni jūnijs birželis "
    "birželio czerwiec czerwca červen června június jún júna haziran hunyo июнь июня",
    7: "july jul juli juillet julio juliol julho luglio iulie júlí heinäkuu juuli jūlijs liepa "
    "liepos lipiec lipca červenec července július júl júla temmuz julai hulyo июль июля",
    8: "august aug augustus août agosto agost augusti ágúst elokuu augusts rugpjūtis "
    "rugpjūčio sierpień sierpnia srpen srpna augusztus august augusta ağustos agustus ogos "
    "август августа",
    9: "september sep sept septembre septiembre setembre setembro settembre septembrie "
    "syyskuu septembris rugsėjis rugsėjo wrzesień września září szeptember septembra eylül "
    "setyembre сентябрь сентября",
    10: "october oct okt oktober octobre octubre outubro ottobre octombrie október lokakuu "
    "oktoober oktobris spalis spalio październik października říjen října október októbra "
    "ekim oktubre октябрь октября",
    11: "november nov novembre noviembre novembro noiembrie nóvember marraskuu novembris "
    "lapkritis lapkričio listopad listopada novembra kasım nopember nobyembre ноябрь ноября",
    12: "december dec dez dezember décembre diciembre desembre dezembro dicembre decembrie "
    "desember joulukuu detsember decembris gruodis gruodžio grudzień grudnia prosinec "
    "prosince decembra aralık disember disyembre декабрь декабря",
}


def _fold(token: str) -> str:
    """Lower-case and strip accents; keep letters only (``Março`` -> ``marco``)."""
    decomposed = unicodedata.normalize("NFKD", token.casefold())
    return "".join(c for c in decomposed if c.isalpha() and not unicodedata.combining(c))


def _table() -> dict[str, int]:
    table: dict[str, int] = {}
    for month, names in _NAMES.items():
        for name in names.split():
            key = _fold(name)
            if table.setdefault(key, month) != month:
                raise ValueError(f"month name {name!r} maps to two months")
    return table


MONTHS: dict[str, int] = _table()
_WILDCARD = re.compile("[?\ufffd]+")


def _by_prefix(key: str) -> int | None:
    best, months = 0, set()
    for name, month in MONTHS.items():
        n = 0
        for a, b in zip(key, name, strict=False):
            if a != b:
                break
            n += 1
        if n > best:
            best, months = n, {month}
        elif n == best:
            months.add(month)
    if best >= 3 and len(months) == 1:
        return months.pop()
    return None


def _by_wildcard(token: str) -> int | None:
    pieces = [_fold(p) for p in _WILDCARD.split(token.casefold())]
    pattern = re.compile(".{1,2}".join(re.escape(p) for p in pieces))
    months = {m for name, m in MONTHS.items() if pattern.fullmatch(name)}
    return months.pop() if len(months) == 1 else None


@lru_cache(maxsize=4096)
def month_number(token: str) -> tuple[int, bool] | None:
    """The month (1-12) a token names and whether the match was exact; None if unknown."""
    token = token.strip()
    key = _fold(token)
    if key in MONTHS:
        return MONTHS[key], True
    try:
        repaired = _fold(token.encode("cp1252").decode("utf-8"))
    except (UnicodeError, ValueError):
        repaired = ""
    if repaired in MONTHS:
        return MONTHS[repaired], True
    if _WILDCARD.search(token):
        found = _by_wildcard(token)
        if found is not None:
            return found, False
    if len(key) >= 3:
        found = _by_prefix(key)
        if found is not None:
            return found, False
    return None
