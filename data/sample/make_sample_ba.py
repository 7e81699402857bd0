"""Write the project's own Blogger and Amazon sample files (``data/sample/blogger/``,
``data/sample/amazon/``) in the real layouts. All text is written for this project.

Run from anywhere: ``python data/sample/make_sample_ba.py``. The output is committed; rerun
after editing the texts below. What the rule filters should do with each piece is noted inline.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

# --- Blogger -----------------------------------------------------------------------------------
# (file name, encoding, [(date, post text)]). Posts are single long lines, as in the corpus.
# fmt: off
BLOGS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ('4100101.female.34.Education.Virgo.xml', 'cp1252', [  # curly quotes and é as single cp1252 bytes: not valid UTF-8
        ('03,March,2004', 'Parent–teacher conferences ran until 8:30 tonight and I’m completely wiped out. Twenty-two families in one evening. Most of them were lovely, but one dad spent fifteen minutes explaining to me that his son is “bored because he’s gifted.” I smiled and nodded and showed him the stack of unfinished math sheets. I drove home with the radio off because I couldn’t take any more voices, and then I sat in the driveway for ten minutes just breathing before I went inside. My husband had saved me a plate of lasagna. I could have cried.'),
        ('04,March,2004', 'Snow day tomorrow! Cocoa and grading.'),  # too short
        ('11,March,2004', 'Small victory today. Marisol, who has not said one word during read-aloud since September, raised her hand and asked whether the dog in the story was “lonely or just alone.” I had to turn to the whiteboard for a second so the kids wouldn’t see my face. That is the whole reason I do this job. I wrote her mom a note in the homework folder and I hope it gets read. Tonight I’m going to treat myself to the good tea and the café crossword and absolutely no lesson plans.'),
        ('27,March,2004', 'My sister flew in from Denver and we had our first real fight in about five years. It started over who would host Mom’s birthday and ended with both of us saying things about high school that have clearly been sitting there for twenty years. She went to bed early and I stayed up washing dishes that were already clean. This morning I made her pancakes the way Dad used to, with the burnt edges, and she laughed and said sorry before I could. We’re okay. I think we’re better than okay, actually.'),
        ('15,April,2004', 'I ran my first 5K on Saturday. Dead last in my age group, but I did not walk once, which was the only goal I had written on the sticky note on my bathroom mirror. My students made me a poster that said GO MRS K GO with a drawing of me that has enormous sneakers and no neck. I taped it to the fridge. My knees hate me today and I keep going up and down the stairs like an old woman, but I already signed up for the next one in June.'),
    ]),
    ('4100102.male.27.Engineering.Aries.xml', 'utf-8', [
        ('14,März,2004', 'First week at the new job in Stuttgart and I have learned two things. One, the coffee machine on the third floor is the only good one, and everybody knows it, so there is a queue at 9:15 like at a bakery. Two, my English is much worse when I am nervous. In the Monday meeting I said that our supplier was “very disappointing for us” when I meant “very slow”. My manager laughed kindly and corrected me. I went red anyway. I practise now in the car on the way home, talking to myself like a crazy person at the traffic lights.'),
        ('02,Juli,2004', 'My flatmate Jonas decided that we are going to cook one dish from every country of the European championship while the tournament is running. Tonight was Portugal: bacalhau, which he soaked for two days and which made the whole flat smell like a harbour. I was sceptical but it was honestly delicious. We ate on the balcony and shouted at the television with the neighbours, who also had their windows open. These are the evenings I will remember when I am old, I think, not the ones at work.'),
        ('19,Juli,2004', 'The new footbridge over the Neckar opens on Saturday. It spans eighty-seven metres and hangs from a single inclined pylon, and the deck was lifted into place in one piece during a night closure of the river. The city expects a few thousand visitors for the opening, with a brass band and a small market on the east bank. Parking near the bridge will be closed from Friday evening.'),  # no first-person pronoun
        ('24,Oktober,2004', 'Visited Oma in the care home today. She did not know my name at first, and then halfway through the visit she suddenly asked whether I still had the red bicycle she gave me when I was nine. I do not, it was stolen in 1991, but I said yes, it is in the cellar. She smiled and held my hand until the nurse came with dinner. I sat in the car park for a long time afterwards. I do not know if lying to her was right but I would do it again.'),
    ]),
    ('4100103.female.19.Student.Pisces.xml', 'utf-8', [
        ('08,September,2004', "ok so college. my roommate Tess is nice but she sets an alarm for 6am and then hits snooze like eleven times.&nbsp; i have started sleeping with my pillow over my head. today we finally talked about it and she was actually super embarrassed and said her mom always woke her up so she never learned how to use an alarm clock like a normal person.&nbsp; we agreed she puts the phone across the room. we also agreed i stop leaving cereal bowls on the desk. fair.&nbsp; i think we're going to be friends."),
        ('21,September,2004', "got the job at the campus coffee place!! urlLink Bean There  is tiny and always smells like burnt milk but the manager, Ruth, is the coolest woman i have ever met. she used to be a tour manager for a band in the 80s and she has stories about sleeping on a bus in Belgium. my first shift i dropped an entire tray of muffins and she just said 'gravity wins again' and handed me a broom. i was so scared she would fire me. i love it there already."),
        ('22,September,2004', 'urlLink this quiz says i am a mango. lol'),  # too short
        ('10,October,2004', "homesick tonight. mom sent a box with socks, granola bars and a photo of the dog wearing my old graduation cap. i cried in the laundry room because it's the only place nobody goes on a Sunday night. then a guy from the second floor came in with a basket of towels and asked if i was ok and we ended up talking for an hour about our dogs while the dryers ran. his is called Pickle. i feel a little better.&nbsp; not totally. but better."),
    ]),
    ('4100104.male.45.indUnk.Taurus.xml', 'utf-8', [
        ('05,June,2004', 'Spent the whole weekend tearing out the old bathroom tiles. Whoever installed them in 1974 used enough mortar to build a bunker. My son Danny helped on Saturday for exactly forty minutes before his friends honked outside, and I let him go because I remember being sixteen. Sunday it was just me, the radio and a hammer drill. There is something satisfying about destroying things you are allowed to destroy. My wife came up at dinner time, looked at the mess and said, “So, a few more weekends?” Yes. A few more.'),
        ('18,June,2004', 'The US trade figures came out this morning and the markets did not like them. The deficit widened for the third month in a row, mostly on imports of consumer electronics and oil. Analysts on the morning shows argued for an hour about whether the dollar will slide further before the end of the summer. Nobody agreed on anything, which is usually the sign that nobody knows.'),  # no first-person pronoun ("US" is the country)
        ('02,Septmber,2004', "Took Danny out for his first real driving lesson in the church parking lot. He stalled the car nine times. I counted. By the tenth try he was red in the face and wanted to quit, and I heard my own father's voice come out of my mouth: “The car doesn't care how you feel, son.” I hated that sentence when I was his age. So I shut up, let him breathe, and we just sat there for a while. Then he drove three full laps without stalling. We got milkshakes. I didn't tell his mom about the curb."),
        ('20,September,2004', 'Our neighbour Frank is moving to Arizona to be closer to his daughter. Eighteen years he has lived next door. He taught me how to sharpen a chainsaw and he was the one who drove my wife to the hospital when Danny came early and I was stuck at work. We had a beer on his porch tonight among the moving boxes and neither of us said anything important. I think that was the important part. I am going to miss the old grump.'),
    ]),
    ('4100105.female.52.Arts.Sagittarius.xml', 'utf-8', [
        ('12,Maio,2004', 'Back in the studio after three weeks away and the light is different already, longer and more yellow. I spent the whole morning just stretching canvases and mixing greys, which is what I do when I am afraid to start. My late husband used to call it ‘sharpening pencils’. He was right. In the afternoon I finally painted the lemon tree in the courtyard, badly, and then less badly. I left the brushes soaking and walked down to the river with a sandwich, feeling lighter than I have in months.'),
        ('30,Maio,2004', 'Taught my first watercolour class for children at the community centre. Eleven kids, ages seven to ten, and one of them ate the blue. I had planned a careful lesson about wet-on-wet washes and instead we painted the ugliest monsters we could imagine, because that is what they wanted, and honestly their monsters were better than anything I have made this year. A shy little girl named Inês stayed to help me wash the palettes and told me she wants to be a painter or a vet. I told her she can be both.'),
        ('17,Julho,2004', "My daughter called to say the wedding will be in October, in the garden of her fiancé's family, and would I please not wear black. I laughed but it stung a bit; I have worn mostly black since Luís died. After the call I opened the wardrobe and took out the green dress I bought for our twenty-fifth anniversary and never wore. I put it on and stood in front of the mirror for a long time. It still fits. I think I will wear it, and I think he would have liked that."),
    ]),
    ('4100106.male.23.Communications-Media.Leo.xml', 'utf-8', [
        ('06,August,2004', "First day of my internship at the radio station. I expected to fetch coffee and I did fetch coffee, but at four o'clock the evening producer got sick and they put me in the booth to run the phones for the call-in show. A woman called to talk about her late cat for six minutes and the host let her, and I realised halfway through that I was tearing up behind the glass. My hands were shaking when I left. I can't believe they pay me for this. Well, they barely pay me."),
        ('07,August,2004', 'Day two. Coffee again. Fine by me.'),  # too short
    ]),
]
# fmt: on

POST = "<date>{date}</date>\r\n<post>\r\n\r\n\t \r\n      {text}\r\n     \r\n\r\n    \r\n</post>\r\n\r\n"


def write_blogs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, encoding, posts in BLOGS:
        body = "".join(POST.format(date=d, text=t) for d, t in posts)
        (folder / name).write_bytes(f"<Blog>\r\n\r\n{body}\r\n</Blog>".encode(encoding))


# --- Amazon ------------------------------------------------------------------------------------
CATEGORY = "Sample_Category"
# fmt: off
# item key -> (parent_asin, title, store, price as found in the files: number, string or null)
ITEMS = {
    'kettle': ('B0SMPKTL01', 'Gooseneck Pour-Over Kettle, 1.0 L, Stainless Steel', 'Brewline', '$34.99'),
    'skillet': ('B0SMPSKL02', 'Pre-Seasoned Cast Iron Skillet, 10 inch', 'Hearthworks', 24.5),
    'boards': ('B0SMPBRD03', 'Bamboo Cutting Board Set of 3 with Juice Grooves', 'GreenGrain', 'None'),
    'lunchbag': ('B0SMPLNB04', 'Insulated Lunch Bag with Shoulder Strap', 'Carrygood', '$15.99'),
    'daypack': ('B0SMPDPK05', 'Lightweight Hiking Daypack 20L, Water Resistant', 'Trailmark', None),
    'lamp': ('B0SMPLMP06', 'LED Desk Lamp with Dimmer and USB Charging Port', 'Brightside', '$29.00'),
    'mat': ('B0SMPMAT07', 'Non-Slip Yoga Mat, 6 mm, with Carry Strap', 'Flowfit', '$21.49'),
    'bags': ('B0SMPSLB08', 'Reusable Silicone Food Storage Bags, 6 Pack', 'Keepfresh', '$18.95'),
    'press': ('B0SMPFRP09', 'French Press Coffee Maker, 34 oz, Glass', 'Brewline', 27),
    'herbs': ('B0SMPHRB11', 'Indoor Herb Garden Starter Kit', 'Sproutly', '$12.99'),
    'jars': ('B0SMPJAR12', 'Glass Spice Jars with Labels, Set of 12', 'Keepfresh', '$19.99'),
}
# fmt: on
NO_META = ("B0SMPNOM10", "timer")  # reviewed item without a metadata line: item_title stays null

USERS = {
    "u1": "AGSAMPLEU1MAYAQ7ZK3XW2PLVNTR",
    "u2": "AGSAMPLEU2THEOB4NE8RFQ6MYJD",
    "u3": "AGSAMPLEU3PRIYA9CW5LHT2GKXE",
    "u4": "AGSAMPLEU4SAMR7DV1ZUQ8NWBOF",
    "u5": "AGSAMPLEU5ELLAJ3KP6YRM4CSAH",  # 8 reviews, one of an item that goes: cascades out
    "u6": "AGSAMPLEU6OMAR2XT9VBG5LQEIP",  # 3 reviews: too few
    "u7": "AGSAMPLEU7LENAW6HF1ZDK8RJTU",  # 8 reviews but 3 too short: too few after min_chars
}

# fmt: off
# (user, item, rating, title, text, date "YYYY-MM-DD", helpful votes, verified, images)
REVIEWS: list[tuple[str, str, float, str, str, str, int, bool, int]] = [
    # u1 - night-shift nurse with two small kids; 9 long reviews + 1 short one
    ('u1', 'kettle', 5.0, 'My 6am ritual after night shift', "I come home from twelve-hour night shifts and the one thing I do for myself before bed is a slow pour-over. This kettle pours so precisely that even with shaky tired hands I don't flood the filter. It heats fast and the handle never gets hot.", '2021-03-02', 4, True, 0),
    ('u1', 'skillet', 4.0, 'Heavy but worth it', "My grandmother cooked everything in cast iron and I finally bought my own. It came decently seasoned; the first eggs stuck a little but by the third week of Sunday pancakes it was slick. Knocked a star off because it's too heavy for me to flip one-handed with a toddler on my hip.", '2021-04-11', 2, True, 1),
    ('u1', 'boards', 5.0, 'Finally stopped fighting over boards', "My husband and I kept arguing about raw chicken on the 'bread board', so now we have three sizes and a rule. The grooves catch all the watermelon juice the kids make. They've survived six months of daily use and a couple of accidental dishwasher runs.", '2021-05-20', 1, True, 0),
    ('u1', 'lunchbag', 4.0, 'Survives the hospital break room', "Keeps my dinner cold for a twelve-hour shift if I put in two ice packs. The shoulder strap is handy when I'm also carrying a diaper bag on the way to daycare drop-off. The zipper caught twice in the first week but has been fine since.", '2021-06-03', 0, True, 0),
    ('u1', 'daypack', 5.0, 'Perfect for short family hikes', "On my days off we take the kids to the state park, and this pack holds snacks, two water bottles, sunscreen and a spare pair of toddler pants without feeling bulky. It's light enough that my five-year-old insists on 'helping' carry it for the first ten minutes.", '2021-07-14', 3, True, 2),
    ('u1', 'lamp', 3.0, 'Good light, wobbly arm', 'I read charting notes at the kitchen table after the kids are asleep, and the warm setting is easy on my eyes. But the arm slowly droops over an hour, so I keep nudging it back up. For the price I expected the hinge to be stiffer. The USB port is handy for my phone.', '2021-08-09', 5, True, 0),
    ('u1', 'mat', 5.0, 'Ten minutes of quiet', "I bought this to do ten minutes of stretching after work so my back stops hurting. It doesn't slide on our hardwood floor, and it's thick enough for my knees. My daughter now does 'yoga' next to me on a towel and it has become our favourite morning thing together.", '2021-09-01', 0, True, 0),
    ('u1', 'bags', 4.0, 'Less plastic in the lunchboxes', 'I was throwing away so many sandwich bags that I felt guilty every morning. These seal well and wash easily in hot soapy water, although drying them inside takes a while; I prop them open on wooden spoons. Goldfish crackers stay crunchy until lunch.', '2021-10-12', 1, True, 0),
    ('u1', 'jars', 4.0, 'Spice drawer finally under control', 'Spent a rare quiet Saturday decanting every spice into these jars while the kids napped. The labels are a bit plain but they stick, and now I can actually find the cumin at 7pm when dinner is late and everyone is hungry and grumpy.', '2021-11-05', 0, True, 1),
    ('u1', 'press', 2.0, 'Meh', 'Filter let grounds through. Back to my kettle.', '2021-12-01', 0, True, 0),  # too short
    # u2 - retired engineer who bakes bread; 8 long reviews
    ('u2', 'kettle', 5.0, 'Measured flow rate, very consistent', 'Being a retired engineer I timed it: a steady 7 to 8 grams per second at a comfortable angle, which is exactly what a pour-over needs. The lid fits snugly and the base is wide enough that it never wobbles on my old electric coil stove. Very pleased with it.', '2021-02-18', 9, True, 0),
    ('u2', 'skillet', 5.0, 'The crust on my bread is finally right', "I bake a sourdough loaf every Sunday and started using this skillet as a steam tray under the stone. Then I tried cornbread in it and my wife declared it the best she has had since her mother's. It holds heat remarkably evenly once properly preheated.", '2021-03-30', 6, True, 1),
    ('u2', 'boards', 4.0, 'Solid boards, slightly warped one', 'The large board is excellent for shaping dough and carving the Sunday roast. The small one warped slightly after I carelessly left it soaking in the sink overnight, which is my fault, not theirs. Oiling them monthly keeps them looking new.', '2021-05-02', 2, True, 0),
    ('u2', 'lunchbag', 3.0, 'Fine for picnics', "I don't need a lunch bag since retiring, but we take it on picnics with the grandchildren. It keeps a couple of sodas and sandwiches cool for an afternoon in the park. The inside seams are not sealed, so melted ice pooled into the stitching once.", '2021-06-19', 0, False, 0),
    ('u2', 'lamp', 5.0, 'My workbench has never been brighter', 'I repair old radios as a hobby and the cool white setting shows the colour bands on resistors clearly. The dimmer is smooth and without any visible flicker, which I checked with my phone camera. A well-designed little lamp for the money.', '2021-07-07', 11, True, 2),
    ('u2', 'bags', 4.0, 'Good for proofing small dough batches', 'My granddaughter suggested these for leftovers, but I have found them excellent for proofing small portions of dough in the refrigerator. They are airtight and hold their shape. The smallest bags are fiddly to clean at the corners.', '2021-08-25', 1, True, 0),
    ('u2', 'press', 4.0, 'Strong coffee, fragile glass', 'Makes a full, heavy cup in four minutes, which my wife prefers to my pour-overs. The glass carafe feels thin, so I handle it carefully when washing up. The mesh filter is better than our old one and lets very little sediment through.', '2021-09-16', 3, True, 0),
    ('u2', 'timer', 5.0, 'Loud enough for my old ears', 'The previous kitchen timer was so quiet I burned two loaves before I noticed. This one rings loudly enough to hear from the garage, and the magnet holds it firmly on the oven door. Simple buttons, which I appreciate at my age.', '2021-10-28', 4, True, 0),
    # u3 - grad student in a small apartment who cooks for friends; 9 long reviews
    ('u3', 'kettle', 4.0, 'Tiny kitchen, big upgrade', "My apartment kitchen is basically a hallway, so the small footprint matters. I make pour-over for my study group on Fridays and everybody now thinks I'm a coffee snob. It takes a little longer to boil than my old plastic kettle, but the pour is lovely.", '2021-01-22', 2, True, 0),
    ('u3', 'boards', 5.0, 'Hosting dumpling night', "I host dumpling night for my lab friends once a month and these boards are perfect: one for chopping, one for rolling wrappers, one for the finished dumplings. They're light enough to hang on the wall, which saves counter space in my tiny place.", '2021-02-27', 3, True, 1),
    ('u3', 'lunchbag', 5.0, 'Saves me money every single week', "Grad school stipends are small, so I meal prep on Sundays and carry lunch to the lab every day. This bag fits two glass containers and a yogurt. It's cute enough that I don't feel like I'm carrying my dad's cooler around campus.", '2021-03-15', 0, True, 0),
    ('u3', 'daypack', 4.0, 'Campus bag turned hiking bag', 'I mostly use it to carry my laptop between buildings, but I also took it on a weekend hike with friends and it was comfortable for six miles. The laptop sleeve is not really padded, so I added my own. The water resistance held up in a light drizzle.', '2021-04-30', 1, True, 0),
    ('u3', 'lamp', 4.0, 'Late-night thesis writing', "I write late at night and the warm light setting helps me wind down a bit. The USB port keeps my phone charged so I can listen to lo-fi playlists while I work. It's a bit taller than I expected on my small desk, but I've gotten used to it.", '2021-06-02', 2, True, 0),
    ('u3', 'mat', 3.0, 'Okay for the price', "I do yoga videos in my living room to deal with thesis stress. The mat grips well, but it had a strong rubber smell for the first two weeks, so I had to leave it on the balcony. Now it's fine and I use it almost every evening after dinner.", '2021-07-21', 0, True, 0),
    ('u3', 'press', 5.0, 'Brunch hero', "When friends come over for Sunday brunch I make two rounds in this and it's always empty. I love that I can make coffee without a machine taking up space. It also works for cold brew overnight in the fridge, which surprised me in a good way.", '2021-09-04', 5, True, 1),
    ('u3', 'timer', 4.0, 'Keeps my dumplings from overcooking', "I always got distracted talking with friends and overcooked the dumplings, so now this timer sits on the fridge. The magnet is strong and the beep is loud. I just wish it had a second timer, because I'm usually steaming and frying at the same time.", '2021-10-10', 0, True, 0),
    ('u3', 'jars', 3.0, 'Cute but the lids are tight', "I moved my spices into these to make my tiny kitchen look less chaotic. They look great on the open shelf, but two of the lids are so tight I need a towel to open them, which is annoying when I'm cooking in a hurry for friends.", '2021-11-18', 1, True, 0),
    # u4 - outdoorsy dad who commutes by bike; 8 long reviews
    ('u4', 'skillet', 5.0, 'Campfire approved', "I took this on our family camping trip and cooked bacon and eggs over the fire for five people. It cleaned up with a little water and salt, and the kids now call it 'the camp pan'. It's heavy for backpacking, obviously, but perfect for car camping.", '2021-05-29', 7, True, 3),
    ('u4', 'lunchbag', 4.0, 'Fits in my bike pannier', 'I commute twelve miles by bike and needed something that keeps lunch cold and fits in a pannier. This squishes in nicely and the food stays cool until noon even in July. The strap is useless on the bike, so I just tuck it inside.', '2021-07-02', 1, True, 0),
    ('u4', 'daypack', 5.0, 'Took it up three peaks this summer', 'My daughter and I hiked three peaks together this summer and this pack carried our lunch, rain jackets and first aid kit every time. The hip belt is thin but enough for light loads. It stayed dry in a sudden thunderstorm, which earned my trust.', '2021-08-22', 8, True, 2),
    ('u4', 'lamp', 4.0, 'Homework station upgrade', 'My son does his homework at the kitchen table and kept complaining about headaches. Since we got this lamp the complaints stopped, or at least changed to complaints about the homework itself. The touch controls are easy for a teenager to use.', '2021-09-09', 2, True, 0),
    ('u4', 'mat', 4.0, 'Stretching after long rides', 'After a long weekend ride my hips are tight, so I roll this out in the garage and stretch for fifteen minutes. It grips well even on the concrete floor. The carry strap is a nice touch, though I mostly just leave it rolled in the corner.', '2021-10-01', 0, True, 0),
    ('u4', 'bags', 5.0, 'Trail mix without the waste', "I pack trail mix and sandwiches for hikes in these instead of zip bags. They survived being crushed at the bottom of a pack and didn't leak a drop of the orange slices my daughter insisted on bringing along.", '2021-10-20', 1, True, 0),
    ('u4', 'press', 4.0, 'Good coffee at the campsite', "I brought this camping wrapped in a towel and it made great coffee with water heated on the stove. Back home my wife uses it every morning. I'd like a steel version for the trail, since glass and kids and campsites don't mix well.", '2021-11-11', 2, True, 0),
    ('u4', 'timer', 4.0, 'Simple and loud', "We use it for screen time limits with the kids now. When it rings the tablet goes away, and arguing with a timer turns out to be less fun than arguing with dad. It's loud enough to hear over the television, and the battery lasts forever.", '2021-12-03', 3, True, 0),
    # u5 - college freshman; 8 long reviews, one of the herb kit that goes (item rule)
    ('u5', 'kettle', 4.0, 'Dorm-room tea', "I'm not allowed a hot plate in my dorm but a kettle is fine, so this makes my tea and instant noodles every night. It's pretty enough that my roommate stopped complaining that it takes up space on our shared shelf.", '2022-01-10', 0, True, 0),
    ('u5', 'skillet', 3.0, 'Mom made me buy it', "My mom insisted I needed a real pan for my first apartment. It's really heavy and I was scared of ruining the seasoning, but I made grilled cheese for my whole floor and felt like an actual adult for once in my life.", '2022-01-28', 0, True, 0),
    ('u5', 'boards', 4.0, 'Cute and practical', 'I use the small one for cutting fruit for smoothies and the big one as a serving board when friends come over. They looked really nice in the photos I posted, which I know is not why you should buy a cutting board, but here we are.', '2022-02-15', 0, True, 0),
    ('u5', 'daypack', 5.0, 'Orientation week hero', "Carried this through orientation week with water, snacks, my ID and a hundred free pamphlets. It's light and the side pocket is perfect for my bottle. I got compliments on the color from two people I'm now friends with.", '2022-03-03', 1, True, 0),
    ('u5', 'mat', 4.0, 'Dorm yoga club', "I joined the yoga club to meet people and this mat was the cheapest decent one I found. It doesn't slip on the gym floor and it rolls up small enough to carry to class under my arm without any hassle.", '2022-03-22', 0, True, 0),
    ('u5', 'bags', 4.0, 'Dining hall snack smuggling', "I use these to take fruit and cookies from the dining hall for late-night study sessions. They seal tight so nothing gets squished in my backpack, and they're easy to rinse in the bathroom sink down the hall.", '2022-04-08', 0, True, 0),
    ('u5', 'herbs', 2.0, 'My basil did not survive', 'I really wanted fresh basil on my windowsill but the seeds took forever to sprout and then everything died during finals week when I forgot to water it for nine days. Probably my fault, but the instructions were very thin.', '2022-04-30', 1, True, 0),
    ('u5', 'jars', 4.0, 'Organised my little spice shelf', 'My first spice collection is small but now it looks organised and grown-up in matching jars. The labels were fun to write with a gold marker. One jar arrived with a tiny chip in the rim but it still works fine.', '2022-05-12', 0, True, 0),
    # u6 - apartment gardener; only 3 reviews
    ('u6', 'herbs', 4.0, 'Mint grew like crazy', "I have a north-facing balcony so I wasn't hopeful, but the mint and parsley grew well within three weeks. The basil struggled. The little pots are flimsy, so I moved everything into proper planters after a month.", '2022-02-02', 2, True, 1),
    ('u6', 'lunchbag', 4.0, 'Keeps my lunch cool at the site', 'I work construction and my old bag fell apart. This one has lasted a whole summer in a hot truck cab with two ice packs. The shoulder strap padding wore through in August, but the bag itself is still fine.', '2022-03-09', 0, True, 0),
    ('u6', 'lamp', 5.0, 'Great for reading at night', 'I read every night before bed and this lamp is the right brightness without waking my wife. The dimmer goes really low, which is what I wanted. Has worked perfectly for four months now, every single night.', '2022-04-14', 1, True, 0),
    # u7 - writes mostly short reviews; 5 long + 3 short
    ('u7', 'kettle', 5.0, 'Beautiful pour', 'I bought this after a barista class and it makes my morning pour-over feel like a little ceremony. Heats fast, pours slow, looks good on the stove. The lid is a bit loose when I pour the last few drops.', '2022-06-01', 0, True, 0),
    ('u7', 'skillet', 4.0, 'Great sear', "Best steak sear I've ever managed at home, with a crust like a restaurant. It took me a while to learn not to move the meat around. It smokes a lot, so I open the kitchen window before I start cooking now.", '2022-06-15', 1, True, 0),
    ('u7', 'boards', 4.0, 'Nice set', "Three sizes cover everything I cook. The bamboo is harder on knives than my old wooden board, so I hone my chef's knife a little more often now. They rinse clean quickly and dry standing up in the rack.", '2022-07-02', 0, True, 0),
    ('u7', 'lamp', 4.0, 'Bright and adjustable', 'I sew in the evenings and this gives enough light to thread a needle without squinting. The color temperature settings are a nice touch, and the base is heavy enough that it never tips when I move the arm.', '2022-07-19', 0, True, 0),
    ('u7', 'press', 4.0, 'Good everyday press', 'I drink two cups every morning and this makes exactly that amount. The plunger is smooth, the filter is decent, and I like being able to see the coffee steep through the glass. Cleaning the mesh takes a minute.', '2022-08-04', 0, True, 0),
    ('u7', 'lunchbag', 3.0, 'Ok', 'Works. Zipper sticks.', '2022-08-20', 0, True, 0),  # too short
    ('u7', 'daypack', 4.0, 'Good', 'Nice pack, light, good pockets.', '2022-09-01', 0, True, 0),  # too short
    ('u7', 'bags', 5.0, 'Love', 'Great bags, no leaks!', '2022-09-13', 0, True, 0),  # too short
]
# fmt: on

ITEM_EXTRA = {
    "main_category": "Amazon Home",
    "categories": ["Home & Kitchen", "Sample Category"],
    "details": {"Country of Origin": "Sampleland"},
}


def _stamp(day: str, offset: int) -> int:
    from datetime import UTC, datetime

    when = datetime.fromisoformat(day).replace(hour=14, minute=offset % 60, tzinfo=UTC)
    return int(when.timestamp() * 1000) + offset


def write_amazon(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    asins = {key: v[0] for key, v in ITEMS.items()} | {NO_META[1]: NO_META[0]}
    lines = []
    for n, (user, item, rating, title, text, day, votes, verified, images) in enumerate(REVIEWS):
        parent = asins[item]
        review = {
            "rating": rating,
            "title": title,
            "text": text,
            "images": [
                {"small_image_url": f"https://example.com/{parent}-{i}.jpg"} for i in range(images)
            ],
            "asin": parent.replace("B0SMP", "B0VAR"),
            "parent_asin": parent,
            "user_id": USERS[user],
            "timestamp": _stamp(day, n),
            "helpful_vote": votes,
            "verified_purchase": verified,
        }
        lines.append(json.dumps(review, ensure_ascii=False))
    (folder / f"{CATEGORY}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    metas = []
    for n, (parent, title, store, price) in enumerate(ITEMS.values()):
        row = {
            "main_category": ITEM_EXTRA["main_category"],
            "title": title,
            "average_rating": round(3.6 + (n % 5) * 0.3, 1),
            "rating_number": 40 + 17 * n,
            "features": [f"{title.split(',')[0]} for everyday use", "Easy to clean"],
            "description": [f"The {title.split(',')[0].lower()} from {store}."],
            "price": price,
            "images": [{"large": f"https://example.com/{parent}.jpg", "variant": "MAIN"}],
            "videos": [],
            "store": store,
            "categories": ITEM_EXTRA["categories"],
            "details": ITEM_EXTRA["details"],
            "parent_asin": parent,
            "bought_together": None,
        }
        metas.append(json.dumps(row, ensure_ascii=False))
    (folder / f"meta_{CATEGORY}.jsonl").write_text("\n".join(metas) + "\n", encoding="utf-8")


def main() -> None:
    write_blogs(HERE / "blogger")
    write_amazon(HERE / "amazon")


if __name__ == "__main__":
    main()
