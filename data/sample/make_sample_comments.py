"""Write the sample comments and replies (invented, written for this project) that the personalized
commenting task reads for Reddit and Twitter:

- ``reddit-comments/comments.jsonl``: Pushshift ``RC_*`` layout (``id, author, body, created_utc,
  link_id, parent_id, score, subreddit``), comments of the sample's Reddit users on each other's
  posts (``reddit/submissions-*.parquet``), plus one removed comment and one row without a post;
- ``twitter/replies.parquet``: the tweets layout plus ``in_reply_to_id``, replies of the sample's
  Twitter users to each other's tweets.

Run: ``python data/sample/make_sample_comments.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent

# fmt: off
# (id, author, post id, created_utc, body)
REDDIT_COMMENTS = [
    ("rc001", "maple_and_moss", "rs004", 1646100000, "The five seconds of white noise happen to everyone, I promise. What you did after is the part people remember."),
    ("rc002", "maple_and_moss", "rs007", 1648000000, "Feeding the starter twice a day giving your days a shape is the most honest thing I've read this week. Glad your winter had bread in it."),
    ("rc003", "maple_and_moss", "rs013", 1653000000, "Paying off the last card is huge. I'd frame the zero balance, honestly, and hang it next to the kids' drawings."),
    ("rc004", "quietcartographer", "rs001", 1651300000, "Telling her about the boring parts of your day is such a good idea. Kids like knowing adults have dropped sandwiches too."),
    ("rc005", "quietcartographer", "rs011", 1652100000, "Six weeks off felt endless when it happened to me. Mapping a slow walking route helped me more than the exercises did."),
    ("rc006", "quietcartographer", "rs015", 1653500000, "This made me want to call my grandmother. Seventy-three and still figuring things out is the most hopeful thing on here."),
    ("rc007", "breadcrumbs_42", "rs002", 1660100000, "Writing down what you actually want before the talk is smart. My ex and I only ever argued from memory and memory is a terrible referee."),
    ("rc008", "breadcrumbs_42", "rs005", 1647600000, "Send the director the files with the timestamps. You're not being petty, you're being accurate, and you can do it politely."),
    ("rc009", "breadcrumbs_42", "rs016", 1654000000, "Library volunteers are the quiet backbone of every town I've lived in. Which day do you do story hour?"),
    ("rc010", "tundra_runner", "rs007", 1648200000, "Bread and running have the same rule for me: show up, even when the result is flat and gummy."),
    ("rc011", "tundra_runner", "rs014", 1653200000, "We split by income percentage and it stopped every argument in our house. Worth a try before the spreadsheet war starts."),
    ("rc012", "tundra_runner", "rs004", 1646300000, "Shaking hands and then twenty good minutes is basically every race start I've ever had. Congrats on finishing it."),
    ("rc013", "ledger_lark", "rs005", 1647700000, "Keep a dated log of what you send and when. It feels dramatic, but it protects you the day you need it."),
    ("rc014", "ledger_lark", "rs001", 1651400000, "Two-hour bedtimes ended at our house when we moved the water cup to the bedside before the story. Small logistics, big peace."),
    ("rc015", "ledger_lark", "rs011", 1652300000, "Physio bills add up fast. Check whether your plan covers the sessions after week four, mine only did once I asked."),
    ("rc016", "porchlight_pam", "rs002", 1660200000, "My husband and I alternated holidays for forty years and we still argued every November. Your list is better than our calendar was."),
    ("rc017", "porchlight_pam", "rs013", 1653300000, "Well done, dear. Now treat yourself to one small thing you pay for in cash, so you remember what it felt like."),
    ("rc018", "porchlight_pam", "rs007", 1648400000, "My mother baked through every hard winter too. The neighbour's jam is how friendships start in my experience."),
    ("rc019", "breadcrumbs_42", "rs001", 1651500000, "[removed]"),  # dropped by the genome: removed
    ("rc020", "ledger_lark", None, 1653400000, "A comment whose thread id is missing."),  # parse.missing_field
]

# (id, user, replies to, date, text)
TWITTER_REPLIES = [
    (1640000000000000001, "nightnurse_jo", 1630000000000000003, "2023-04-15 11:02:00+00:00", "Princess Sparkle is going to be the best tomato in Cork, I can feel it."),
    (1640000000000000002, "nightnurse_jo", 1630000000000000009, "2023-04-03 07:50:00+00:00", "Just home from a night shift and this is the nicest thing I've read all week. Take your time, always."),
    (1640000000000000003, "nightnurse_jo", 1630000000000000012, "2023-02-09 08:10:00+00:00", "Saying no politely is a skill nobody teaches. Proud of you, and of the dog."),
    (1640000000000000004, "grandad_grows", 1630000000000000001, "2023-03-02 09:30:00+00:00", "You said it right, lass. My wife's nurse said much the same to me once and I still remember it."),
    (1640000000000000005, "grandad_grows", 1630000000000000008, "2023-06-11 19:40:00+00:00", "Forty minutes in work shoes earns you that cinnamon roll twice over."),
    (1640000000000000006, "grandad_grows", 1630000000000000005, "2023-02-21 08:15:00+00:00", "Call her back and tell her what a B means there. Mothers worry in grades when they can't see the rest."),
    (1640000000000000007, "first_gen_felix", 1630000000000000010, "2023-04-19 21:00:00+00:00", "A pizza box chore wheel is peak roommate diplomacy. Stealing this."),
    (1640000000000000008, "first_gen_felix", 1630000000000000002, "2023-03-09 16:00:00+00:00", "Cereal at 3pm is breakfast if you believe hard enough. Glad you called your friend."),
    (1640000000000000009, "first_gen_felix", 1630000000000000007, "2023-05-03 10:00:00+00:00", "I want to be the person with the spare poncho someday. Right now I'm the one who forgot his umbrella."),
    (1640000000000000010, "bikecommute_bea", 1630000000000000004, "2023-10-28 20:30:00+00:00", "Bedsheets on dahlias and a wave with a pillowcase. This is the kind of neighbourliness I live for."),
    (1640000000000000011, "bikecommute_bea", 1630000000000000011, "2023-01-25 15:00:00+00:00", "Coworking small talk is underrated. I only learned my route to work from the guy by the coffee machine."),
    (1640000000000000012, "bikecommute_bea", 1630000000000000006, "2023-03-14 19:00:00+00:00", "You did the reading. That's belonging, right there."),
    (1640000000000000013, "lofi_linh", 1630000000000000007, "2023-05-03 09:30:00+00:00", "Strangers with spare ponchos are the open mic crowd of the street."),
    (1640000000000000014, "lofi_linh", 1630000000000000003, "2023-04-15 13:00:00+00:00", "Plants do listen better. Mine have heard every song before any audience does."),
    (1640000000000000015, "lofi_linh", 1630000000000000012, "2023-02-08 17:30:00+00:00", "Tiny victories deserve long walks. Tell the dog she earned it too."),
    (1640000000000000016, "kitchentable_k", 1630000000000000009, "2023-04-03 09:00:00+00:00", "Restarting a song into the mic takes more nerve than playing it right the first time."),
    (1640000000000000017, "kitchentable_k", 1630000000000000002, "2023-03-09 17:00:00+00:00", "Texting the friend instead of waiting for the perfect weekend. Doing that today, thank you."),
    (1640000000000000018, "kitchentable_k", 1630000000000000005, "2023-02-21 09:00:00+00:00", "My mom did the same thing. It took me years to hear it as worry, not judgement."),
]
# fmt: on


def main() -> None:
    folder = HERE / "reddit-comments"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "comments.jsonl").open("w", encoding="utf-8") as f:
        for cid, author, post, created, body in REDDIT_COMMENTS:
            row = {
                "id": cid,
                "author": author,
                "body": body,
                "created_utc": created,
                "link_id": f"t3_{post}" if post else None,
                "parent_id": f"t3_{post}" if post else None,
                "score": 3,
                "subreddit": "AskReddit",
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    replies = pa.table(
        {
            "id": pa.array([r[0] for r in TWITTER_REPLIES], pa.int64()),
            "user": pa.array([r[1] for r in TWITTER_REPLIES], pa.string()),
            "tweet": pa.array([r[4] for r in TWITTER_REPLIES], pa.string()),
            "date": pa.array([r[3] for r in TWITTER_REPLIES], pa.string()),
            "in_reply_to_id": pa.array([r[2] for r in TWITTER_REPLIES], pa.int64()),
        }
    )
    (HERE / "twitter").mkdir(parents=True, exist_ok=True)
    pq.write_table(replies, HERE / "twitter" / "replies.parquet")
    print(
        f"wrote {len(REDDIT_COMMENTS)} Reddit comments and {len(TWITTER_REPLIES)} Twitter "
        f"replies under {HERE}"
    )


if __name__ == "__main__":
    main()
