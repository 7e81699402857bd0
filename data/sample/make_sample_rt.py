"""Write the Reddit and Twitter sample corpus (invented users and posts, written for this project)
in the layouts of the real datasets:

- ``reddit/submissions-*.parquet``: HuggingFaceGECLM/REDDIT_submissions, every column a string;
  the two files differ in column order and set, as the real per-subreddit files can;
- ``twitter/tweets.parquet``: enryu43/twitter100m_tweets (``id`` and counts int64, ``date`` a
  string); ``twitter/users.parquet``: enryu43/twitter100m_users.

Six users per source keep at least two records through every rule; the other records each trip
one rule (named in the comment next to them). Run: ``python data/sample/make_sample_rt.py``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent

# fmt: off
# (id, author, subreddit, title, selftext, created_utc, score, num_comments, distinguished, removed_by_category)
REDDIT = [
    ("rs001", "maple_and_moss", "Parenting", "Bedtime with my three-year-old has become a two-hour negotiation",
     "Every night I tell myself I will stay calm, and every night around the fourth glass of water I can feel my patience "
     "thinning. Last night I tried something different: I sat on the floor by her bed and told her about my own day, the "
     "boring parts too, the bus that was late and the sandwich I dropped. She listened, asked whether the sandwich was sad, "
     "and fell asleep before I finished. I don't know if it was the story or just luck, but I walked out feeling like her "
     "parent instead of her opponent for once.", "1651212000", "148", "37", None, None),
    ("rs002", "maple_and_moss", "relationships", "My partner &amp; I can't agree on where to spend the holidays",
     "His family does a huge loud dinner with thirty people and I love them, honestly, but by the end of it I am so drained "
     "that I hide in the bathroom scrolling my phone. My parents live alone now and I know my mom counts the days until we "
     "visit. When I brought it up he said I was keeping score, and I got defensive because maybe I am. I wrote down what I "
     "actually want: one quiet morning with my parents, one evening at his family's. Tonight I'm going to show him the list "
     "instead of arguing from memory.", "1.66e9", "212", "58", None, None),
    ("rs003", "maple_and_moss", "Parenting", "Quick question", "Does anyone know if the library story hour still runs on Tuesdays?",
     "1652000000", "4", "3", None, None),  # reddit.min_chars
    ("rs004", "quietcartographer", "careerguidance", "I gave my first presentation at work and my hands would not stop shaking",
     "I rehearsed in the car, in the shower, in front of my cat. When I stood up in the meeting room my mind went completely "
     "white for maybe five seconds, which felt like a year. Then my manager asked an easy question about the second slide and "
     "something unlocked. I talked for twenty minutes. Afterwards a senior engineer I barely know stopped by my desk and said "
     "the map of dependencies was the clearest thing she'd seen all quarter. I went to the stairwell and cried a little, the "
     "good kind. I keep replaying it, both the freeze and the part after.", "1646000000.0", "96", "21", None, None),
    ("rs005", "quietcartographer", "antiwork", "A coworker presented my analysis as his own and I said nothing",
     "It was the churn analysis I spent two weekends on. He walked the director through it slide by slide, said 'we found' "
     "and 'I noticed', and I just sat there nodding because I could not find a sentence that didn't sound petty. On the walk "
     "home I drafted five different messages to him and deleted all of them. My sister says I should email the director with "
     "the original files and timestamps. I think she's right, but I'm scared of becoming the difficult one on a team where I "
     "just started to feel like I belong.", "1647500000", "311", "64", None, None),
    ("rs006", "quietcartographer", "CasualConversation", "Started journaling again after three years",
     "I found my old notebook in a box while moving and reading it was strange, like meeting a younger cousin. I used to write "
     "mostly about worries that never happened. I bought a new notebook and decided to only write down one thing I noticed "
     "each day, not one thing I fear. So far: the heron by the canal, the barista who remembered my name, my neighbor's "
     "terrible saxophone practice that somehow made me smile.", "1649000000", "1", "5", None, None),  # reddit.min_score
    ("rs007", "breadcrumbs_42", "Breadit", "I learned to bake sourdough after my breakup and it quietly saved my winter",
     "We split up in October and suddenly my evenings were enormous and empty. A friend gave me a jar of starter as a joke "
     "gift. Feeding it twice a day gave my days a shape: wake up, feed the starter, go to work, come home, feed the starter. "
     "My first loaves were flat and gummy and I ate them anyway, standing at the counter. By January I was giving bread to my "
     "downstairs neighbor, who started leaving jam outside my door in return. We have never had a long conversation, but "
     "that jar of jam every few weeks feels like a small promise that I'm still part of the building.&#x200B;",
     "1642000000", "523", "88", None, None),
    ("rs008", "breadcrumbs_42", "CasualConversation", "My downstairs neighbor invited me to her birthday and I almost said no",
     "It's the jam neighbor. She slipped a handwritten card under my door and my first instinct was to invent an excuse, "
     "because parties with strangers make my chest tight. I went for one hour. I knew nobody, so I helped her grandson "
     "refill the ice and we ended up talking about trains for most of that hour. When I left she hugged me at the door and "
     "said the bread had been the nicest thing that happened to her all year. I walked up one flight of stairs and sat on "
     "my floor grinning like an idiot.", "1645000000", "77", "19", None, None),
    ("rs009", "breadcrumbs_42", "Breadit", "Update on the neighbor situation", "[removed]", "1648000000", "45", "12", None,
     "moderator"),  # reddit.removed
    ("rs010", "tundra_runner", "running", "Finished my first half marathon at 41 and I am still processing it",
     "Two years ago I couldn't run to the end of my street without stopping. I started with a walk-run app because my doctor "
     "was worried about my blood pressure and I was embarrassed to be seen jogging. Yesterday at kilometre eighteen I wanted "
     "to quit so badly that I started bargaining with myself out loud. A woman running next to me laughed and said she was "
     "doing the same thing, and we finished together. My kids made a sign that said GO DAD GO SLOWLY and I'm keeping it "
     "forever.", "1650000000", "640", "93", None, None),
    ("rs011", "tundra_runner", "running", "Knee injury, six weeks off, and I'm grumpier than I expected",
     "The physio says it's patellar tendinopathy and that rest and boring exercises will fix it. I know that's reasonable. "
     "But running had become the one hour a day where nobody needed anything from me, and without it I'm snapping at my "
     "wife about dishes and feeling guilty about snapping. Yesterday I told her that directly instead of pretending I was "
     "fine. She suggested I take the dog on long slow walks at the same time I used to run. I did it this morning and it "
     "helped more than I want to admit.", "1653000000", "58", "14", None, None),
    ("rs012", "tundra_runner", "running", "Does anyone else talk to themselves on long runs?",
     "Genuinely curious. I narrate everything: the hills, the weather, my own bad decisions about breakfast. My neighbour "
     "caught me mid-sentence once and I pretended I was on a call. I think it keeps me from spiralling when the legs get "
     "heavy, but now I'm wondering whether it looks as strange as it feels. What do you all do in your heads for two hours?",
     "1655000000", "25", "1", None, None),  # reddit.min_comments
    ("rs013", "ledger_lark", "personalfinance", "I paid off my last credit card and told my parents about the debt for the first time",
     "For four years I hid eleven thousand dollars of card debt from everyone, mostly from shame, because my parents are the "
     "kind of people who pay cash for cars. Last Sunday I made the final payment, then drove to their house and told them "
     "everything over dinner. My dad was quiet for a long time and then said he'd had debt at my age too and never told "
     "anyone either. My mom cried, not angry crying. I expected to feel lighter about the money. I didn't expect to feel "
     "lighter about them.", "1640995200", "1290", "211", None, None),
    ("rs014", "ledger_lark", "Roommates", "How do you split bills fairly when one roommate works from home?",
     "My roommate is home all day and the heating and electricity bills have roughly doubled since she started remote work. "
     "She is a good friend and I don't want money to make things awkward, but I'm also saving hard and it stings every month. "
     "I made a spreadsheet of the last year's bills and I'm planning to suggest she covers sixty percent during winter. I "
     "practiced saying it in a way that doesn't sound like an accusation. Has anyone done this, and how did the conversation "
     "actually go?", "1643500000", "34", "27", None, None),
    ("rs015", "porchlight_pam", "grandparents", "At seventy-three I finally figured out video calls with my grandkids",
     "My daughter set up the tablet at Christmas and I kept pressing the wrong thing and hanging up on everyone. I was too "
     "proud to ask again, so I wrote the steps on an index card in big letters and taped it to the kitchen cabinet. Last "
     "night my granddaughter showed me her loose tooth and her science project about worms, and I didn't hang up once. After "
     "we finished I sat in the quiet kitchen for a while feeling both very happy and very far away from them.",
     "1644000000", "402", "45", None, None),
    ("rs016", "porchlight_pam", "Volunteering", "Volunteering at the library taught me how lonely some of the regulars are",
     "I shelve books on Thursday mornings. There's a gentleman who comes in every week to read the newspaper and always asks "
     "me what I'm reading. At first I thought he was just being polite, but last week he told me his wife died in the spring "
     "and Thursdays are the only day he talks to anyone. Now I bring two cups of coffee. We talk about mystery novels and "
     "never about his wife, and I think that is exactly what he wants from me.", "1646500000", "188", "30", None, None),
    ("rs017", "porchlight_pam", "Volunteering", "Reminder: library volunteer sign-up sheet is open for spring",
     "Hello everyone, this is a reminder from the moderation team that the spring sign-up sheet for library volunteers is "
     "now open. Please read the community rules before posting your availability, keep discussion civil, and report any "
     "posts that ask for personal contact details. Shifts are listed by branch and weekday. Thank you to everyone who helped "
     "last season, the branches noticed the difference and asked us to pass on their thanks to all of you.",
     "1647000000", "66", "9", "moderator", None),  # reddit.moderator
    ("rs018", "RemindMeBot", "running", "Reminder about your race registration",
     "I will be messaging you in 7 days on 2022-05-01 to remind you of this link. Click this link to send a PM to also be "
     "reminded and to reduce spam. Parent commenter can delete this message to hide from others. Info about this bot, "
     "custom reminders, feedback and the source code are all linked below. This is an automated message and replies to it "
     "are not monitored by a person.", "1650500000", "12", "3", None, None),  # reddit.bot
    ("rs019", "AutoModerator", "personalfinance", "Weekly Thread: Budgeting questions and small wins",
     "Welcome to the weekly thread for budgeting questions. Please use this space for quick questions that do not need a "
     "standalone post, and share any small financial wins from your week. Remember to read the wiki before asking about "
     "emergency funds, debt avalanche versus snowball, or retirement accounts. Posts that break the rules will be removed. "
     "This thread is posted automatically every Monday and stays pinned for seven days.", "1651000000", "40", "120", None,
     None),  # reddit.system_user
    ("rs020", "[deleted]", "relationships", "My best friend stopped talking to me after I moved away",
     "We were inseparable for ten years and after my move she answers my messages later and later, and now not at all. I "
     "keep rereading our last conversation to find the moment I did something wrong. Part of me wants to fly back and ask "
     "her face to face, another part thinks friendships sometimes just end quietly and I should let it be. I have started "
     "writing her a letter I will probably never send, and even that helps a bit.", "1652500000", "230", "41", None,
     None),  # reddit.deleted_author
]

# (id, user, tweet, replies, retweets, likes, quotes, date)
TWEETS = [
    (1630000000000000001, "nightnurse_jo", "Twelve-hour night shift done. Sat in my car in the hospital garage for twenty minutes before I could drive home, just breathing. A patient's daughter held my hand at 4am and asked if her dad was scared. I told her the truth: he said he wasn't, and that he was proud of her. I hope I said it right. Going to sleep now.", 12, 3, 210, 1, "2023-03-02 07:41:09+00:00"),
    (1630000000000000002, "nightnurse_jo", "My body clock is so confused that I ate cereal at 3pm and called it breakfast without irony. Night shifts make my friendships hard: everyone is awake when I'm asleep. Today I finally texted my oldest friend to say I miss her instead of waiting for a perfect free weekend. She called within five minutes and we laughed for an hour.", 5, 0, 88, 0, "2023-03-09 15:02:44+00:00"),
    (1630000000000000003, "grandad_grows", "My grandson visited and we planted tomatoes together. He insisted on naming every seedling, so now I have Gerald, Big Tom and Princess Sparkle in the greenhouse. I pretended to grumble but honestly I'll be out there every morning checking on Princess Sparkle like she's family. He asked why I talk to the plants. I told him they listen better than most people.", 9, 4, 156, 2, "2023-04-15 10:20:00+00:00"),
    (1630000000000000004, "grandad_grows", "First frost warning tonight and I spent the evening covering the dahlias with old bedsheets while my neighbour watched from her window laughing. I waved at her with a pillowcase. My late wife used to do this job and I never paid attention to how she did it, so every autumn I get it slightly wrong and feel her laughing too, in a kind way.", 14, 2, 301, 3, "2023-10-28 19:45:12+00:00"),
    (1630000000000000005, "first_gen_felix", "Called my mom after my first midterm and she asked what grade I got before I even said hello. I got a B and she went quiet and I spent the whole call defending myself. After hanging up I realized she doesn't know that a B in organic chemistry is actually good here. Tomorrow I'll call again and explain, instead of sulking about it.", 7, 1, 64, 0, "2023-02-20 22:10:31+00:00"),
    (1630000000000000006, "first_gen_felix", "Imposter syndrome update: in seminar today a classmate casually mentioned her parents are both professors and I felt myself shrink in my chair. Then the professor asked a question about the reading and I was the only one who had actually done it. I answered, my voice shook, and it was fine. I'm writing this down so I remember that I belong here too.", 11, 2, 140, 1, "2023-03-14 18:33:02+00:00"),
    (1630000000000000007, "bikecommute_bea", "Got absolutely soaked on the bike commute this morning. A stranger at the red light handed me a spare rain poncho from her backpack, said 'I always carry two, someone always needs one', and rode off before I could thank her properly. I spent the rest of the day trying to be that person for someone else and held three doors and one elevator.", 6, 5, 230, 2, "2023-05-03 08:55:40+00:00"),
    (1630000000000000008, "bikecommute_bea", "Chain snapped halfway up the hill on the way home. I pushed the bike for forty minutes in work shoes, first furious, then kind of peaceful. I noticed a bakery I've ridden past a hundred times and bought the last cinnamon roll. Sometimes the slow way shows you the street you live on. Booking the bike shop appointment now, grumbling a little.", 3, 0, 97, 0, "2023-06-11 18:12:09+00:00"),
    (1630000000000000009, "lofi_linh", "Played my first open mic since the pandemic. My hands were shaking so badly I messed up the opening chord twice and said 'sorry, let me start over' into the microphone. Someone in the back yelled 'take your time!' and the whole room clapped. I finished the song. I've been smiling like a fool on the train home and I don't even care who sees.", 40, 22, 1800, 6, "2023-04-02 23:40:18+00:00"),
    (1630000000000000010, "lofi_linh", "My roommate and I had our first real argument, about dishes of course, and instead of slamming doors we sat on the kitchen floor and talked it out for an hour. Turns out she's been stressed about her job and the dishes were just the last straw. We made a chore wheel out of a pizza box. It's ugly and I love it.", 25, 8, 960, 3, "2023-04-19 20:05:55+00:00"),
    (1630000000000000011, "kitchentable_k", "Third week of freelancing from my kitchen table and I've realised I haven't spoken out loud to another human since Tuesday except the barista. I talk to my dog constantly though, and she has opinions. Today I booked a desk at a coworking space two days a week, mostly for the small talk by the coffee machine, which I used to hate.", 4, 1, 72, 0, "2023-01-25 14:27:33+00:00"),
    (1630000000000000012, "kitchentable_k", "Had to tell a client I couldn't take their project because I'm already at capacity. Saying no used to make me physically nauseous and I'd agree to everything, then work until 2am and resent everyone. Today I said no politely, suggested a colleague, and the client thanked me. My dog and I went for a long walk to celebrate the tiny victory.", 8, 2, 133, 1, "2023-02-08 16:49:21+00:00"),
    (1630000000000000013, "kitchentable_k", "Tired.", 0, 0, 3, 0, "2023-02-09 01:02:03+00:00"),  # twitter.min_chars
    (1630000000000000014, "lofi_linh", "RT @grandad_grows: My grandson visited and we planted tomatoes together. He insisted on naming every seedling, so now I have Gerald, Big Tom and Princess Sparkle in the greenhouse. I pretended to grumble but honestly I'll be out there every morning checking on Princess Sparkle like she's family. He asked why I talk to plants.", 0, 0, 0, 0, "2023-04-15 12:00:00+00:00"),  # twitter.retweet
    (1630000000000000015, "bikecommute_bea", "This made me tear up on the train this morning. Nurses carry so much for the rest of us and almost never get to talk about it. If you know a night shift worker, send them a message today, at a time they are actually awake, and tell them you noticed. https://twitter.com/nightnurse_jo/status/1630000000000000001", 2, 1, 54, 0, "2023-03-02 09:15:00+00:00"),  # twitter.quote_tweet
    (1630000000000000016, "BrewHausCoffee", "Spring is here and so is our new single-origin roast from the hills of Huila, with notes of red apple, panela and cocoa. Our roasters spent months getting this one right, tasting it every morning before the cafes open. Find it in every BrewHaus location and online, and tell us how you brew yours, we read every reply.", 30, 45, 700, 12, "2023-03-21 12:00:00+00:00"),  # twitter.brand_account
    (1630000000000000017, "first_gen_felix", "My cousin started selling handmade candles and I promised to help her out, so here goes: soy wax, hand poured, smells like a library on a rainy day. Shop now at her store, link in bio, and use code FELIX20 for 20% off your first order this weekend only. Free shipping over thirty dollars. #candles #handmade #smallbusiness #giftideas #cozy", 1, 3, 20, 0, "2023-11-24 17:00:00+00:00"),  # twitter.advert
]

# (user, id, verified, followers, description, location)
USERS = [
    ("nightnurse_jo", 9001, False, 812, "ICU nurse, night owl by necessity. Tea, crosswords, too many houseplants.", "Leeds"),
    ("grandad_grows", 9002, False, 430, "Retired postman. Tomatoes, dahlias and the occasional grandson.", "Cork"),
    ("first_gen_felix", 9003, False, 256, "Chem major, first in my family at uni. Coffee-powered.", "Austin, TX"),
    ("bikecommute_bea", 9004, False, 1204, "Cycling to work in all weather. Opinions about bike lanes.", "Utrecht"),
    ("lofi_linh", 9005, True, 182000, "Musician. Cat person. Writing songs about ordinary Tuesdays.", "Melbourne"),
    ("kitchentable_k", 9006, False, 377, "Freelance illustrator. Dog dad. Working on saying no.", "Lisbon"),
    ("BrewHausCoffee", 9100, True, 254000, "Official account of BrewHaus Coffee Co. Roasting since 1998. For support, DM us.", "Portland, OR"),
]
# fmt: on


def _reddit_tables() -> list[tuple[str, pa.Table]]:
    def row(r: tuple) -> dict[str, str | None]:
        rid, author, sub, title, body, created, score, comments, dist, removed = r
        return {
            "id": rid,
            "author": author,
            "subreddit": sub,
            "title": title,
            "selftext": body,
            "created_utc": created,
            "score": score,
            "num_comments": comments,
            "distinguished": dist,
            "over_18": "False",
            "stickied": "True" if author == "AutoModerator" else "False",
            "url": f"https://www.reddit.com/r/{sub}/comments/{rid}/",
            "permalink": f"/r/{sub}/comments/{rid}/",
            "removed_by_category": removed,
            "author_flair_text": None,
            "link_flair_text": None,
            "domain": f"self.{sub}",
        }

    rows = [row(r) for r in REDDIT]
    first, second = rows[:10], rows[10:]
    # the second file: another column order, and without some optional columns
    order_b = ["title", "selftext", "id", "author", "score", "num_comments", "created_utc", "subreddit", "distinguished",
               "removed_by_category", "stickied", "over_18", "permalink"]  # fmt: skip
    table_a = pa.table({k: pa.array([r[k] for r in first], pa.string()) for k in rows[0]})
    table_b = pa.table({k: pa.array([r[k] for r in second], pa.string()) for k in order_b})
    return [("submissions-a.parquet", table_a), ("submissions-b.parquet", table_b)]


def main() -> None:
    reddit = HERE / "reddit"
    reddit.mkdir(parents=True, exist_ok=True)
    for name, table in _reddit_tables():
        pq.write_table(table, reddit / name)
    tweets_cols = ["id", "user", "tweet", "replies", "retweets", "likes", "quotes", "date"]
    tweets = pa.table(
        {
            "user": pa.array([t[1] for t in TWEETS], pa.string()),
            "id": pa.array([t[0] for t in TWEETS], pa.int64()),
            "tweet": pa.array([t[2] for t in TWEETS], pa.string()),
            **{
                c: pa.array([t[i] for t in TWEETS], pa.int64())
                for i, c in enumerate(tweets_cols[3:7], start=3)
            },
            "date": pa.array([t[7] for t in TWEETS], pa.string()),
        }
    )
    users = pa.table(
        {
            "user": pa.array([u[0] for u in USERS], pa.string()),
            "id": pa.array([u[1] for u in USERS], pa.int64()),
            "verified": pa.array([u[2] for u in USERS], pa.bool_()),
            "followers": pa.array([u[3] for u in USERS], pa.int64()),
            "description": pa.array([u[4] for u in USERS], pa.string()),
            "location": pa.array([u[5] for u in USERS], pa.string()),
        }
    )
    (HERE / "twitter").mkdir(parents=True, exist_ok=True)
    pq.write_table(tweets, HERE / "twitter" / "tweets.parquet")
    pq.write_table(users, HERE / "twitter" / "users.parquet")
    print(f"wrote {len(REDDIT)} submissions, {len(TWEETS)} tweets, {len(USERS)} users under {HERE}")


if __name__ == "__main__":
    main()
