"""Twitter rule filters (paper §2.1): keep tweets with >= 300 characters of normalised text;
drop retweets, quote tweets, corporate/brand accounts and advertisement-like content.
Thresholds come from :class:`humanllm.filters.config.TwitterRules`.

Rules, in the order a record is checked (the first that fails names the reject):

- ``twitter.brand_account``, on the user (``verified``, ``followers``, ``description`` come from
  the users table through ``meta``; without it only the first heuristic can fire):

  1. the user name is in ``extra_brands`` (any case);
  2. verified, at least ``brand_min_followers`` followers, and brand words in the description
     (:data:`BRAND_WORDS`: official, company, inc/llc/ltd, store/shop, products, customers,
     shipping, "since 1998", ™/®, ...): a verified person ("Actor. Dad.") is kept;
  3. a corporate phrase in the description whatever the size (:data:`CORPORATE_PHRASES`:
     "official account", "customer service/support/care", "for support, DM us", "our
     products/stores/customers", "we're hiring", ...);
  4. a brand-like name (ends in Support, Help, Cares, HQ, Official, Store, Shop, Deals, Inc,
     LLC, Ltd, or holds ™/®) together with brand words in the description.

- ``twitter.min_chars``: normalised text shorter than ``min_chars`` (before any text regex).
- ``twitter.retweet``: the text starts with ``RT @user`` (or the older ``MT @user``, ``rt @user``).
- ``twitter.quote_tweet``: scraped quote tweets (this dataset) end with the quoted tweet's link,
  ``https://twitter.com/<user>/status/<id>`` (also x.com, mobile./www., ``statuses``); and old
  manual quotes start with ``QT @user``.
- ``twitter.advert``: advertisement-like content, any of: a promotional phrase
  (:data:`PROMO_PHRASES`: "shop now", "link in bio", "use code", "promo code", "free shipping",
  "limited time offer", "#ad", "#sponsored", "giveaway", ...); a discount ("30% off", "code:
  SAVE20"); at least ``max_hashtags`` hashtags; at least ``max_links`` links.

Text rules run only on the rows every cheaper rule kept (the frame is split, not masked), so the
regexes never see the short majority of tweets.
"""

from __future__ import annotations

import polars as pl

from humanllm.filters import first_reason
from humanllm.filters.config import FilterConfig, TwitterRules
from humanllm.sources.twitter import RULE_FIELDS, with_rule_fields

BRAND_WORDS = (
    r"(?i)\b(?:official|brand|company|corporation|corp|inc|llc|ltd|store|shop|products?|customers?"
    r"|shipping|retailer|manufacturer|since \d{4}|est\.? \d{4})\b|[™®]"
)
CORPORATE_PHRASES = (
    r"(?i)\bofficial (?:twitter|account|page|feed)\b|\bcustomer (?:service|support|care)\b"
    r"|\bfor (?:help|support)\b.{0,20}\b(?:dm|contact|email|visit)\b|\bour (?:products|stores?|customers|team is here)\b"
    r"|\bwe(?:'re| are) hiring\b"
)
_BRAND_NAME = r"(?i)(?:support|help|cares|hq|official|store|shop|deals|inc|llc|ltd)$|[™®]"
PROMO_PHRASES = (
    r"(?i)\b(?:shop now|buy now|order now|link in (?:my )?bio|use (?:my )?code|promo code|discount code"
    r"|coupon code|free shipping|limited time (?:offer|only)|sign up (?:now|today)|click the link"
    r"|dm (?:me |us )?to order|check out my (?:shop|store|etsy)|available now at|on sale now|giveaway)\b"
    r"|(?:^|\s)#(?:ad|sponsored|promo|giveaway)\b"
)
_DISCOUNT = r"\b\d{1,2} ?% off\b|(?i:\b(?:code|coupon)\b:? )[A-Z0-9]{4,}\b"
_STATUS_LINK = r"(?i)https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/\w{1,30}/status(?:es)?/\d+\S*$"


def brand_account(r: TwitterRules) -> pl.Expr:
    """The brand heuristics over ``user_id`` and the ``verified``/``followers``/``description``
    fields (see the module docstring)."""
    name = pl.col("user_id")
    desc = pl.col("description").fill_null("")
    brand_words = desc.str.contains(BRAND_WORDS)
    big_verified = pl.col("verified").fill_null(False) & (
        pl.col("followers").fill_null(0) >= r.brand_min_followers
    )
    return (
        name.str.to_lowercase().is_in(sorted({b.lower() for b in r.extra_brands}))
        | (big_verified & brand_words)
        | desc.str.contains(CORPORATE_PHRASES)
        | (name.str.contains(_BRAND_NAME) & brand_words)
    )


def text_checks(r: TwitterRules) -> list[tuple[str, pl.Expr]]:
    """The rules on the normalised tweet, in order (run on long-enough rows only)."""
    text = pl.col("text")
    return [
        ("twitter.retweet", text.str.contains(r"^(?:RT|rt|MT) @\w")),
        ("twitter.quote_tweet", text.str.contains(_STATUS_LINK) | text.str.starts_with("QT @")),
        (
            "twitter.advert",
            text.str.contains(PROMO_PHRASES)
            | text.str.contains(_DISCOUNT)
            | (text.str.count_matches(r"(?:^|\s)#\w") >= r.max_hashtags)
            | (text.str.count_matches(r"https?://") >= r.max_links),
        ),
    ]


#: The rules :func:`flag` decides first; their rows come first in its output.
EARLY_REASONS = ("twitter.brand_account", "twitter.min_chars")


def flag(records: pl.LazyFrame, rules: FilterConfig, source: object = None) -> pl.LazyFrame:
    """Records plus ``reason``: user rules and the length first, text rules on the rest (the
    rows the first rules drop come first, then the rest, each in input order)."""
    r = rules.twitter
    early = [brand_account(r), pl.col("text").fill_null("").str.len_chars() < r.min_chars]
    lf = with_rule_fields(records).with_columns(
        first_reason(list(zip(EARLY_REASONS, early, strict=True)))
    )
    decided = lf.filter(pl.col("reason").is_not_null())
    rest = lf.filter(pl.col("reason").is_null()).with_columns(first_reason(text_checks(r)))
    return pl.concat([decided, rest]).drop(list(RULE_FIELDS))
