"""Training phrase table, C1-C2: per policy, ten contrasting pairs
(harmful_title, harmful_desc, benign_title, benign_desc) — the same topic written as promoting / instructing /
threatening / selling / targeting, and as warning / reporting / educating / condemning / supporting recovery."""

from __future__ import annotations

PAIRS: dict[str, list[tuple[str, str, str, str]]] = {
    "c1.explicit": [
        (
            "Full uncensored sex tape",
            "Two adults having sex on camera, nothing blurred, watch the whole thing.",
            "Sex education for teens",
            "A doctor explains consent, contraception and sexual health in plain words.",
        ),
        (
            "Hot nude photo set",
            "Fully naked models posing to turn you on, explicit close-ups inside.",
            "Renaissance nudes at the museum",
            "A guided tour of classical statues and what the artists were trying to say.",
        ),
        (
            "Watch me strip completely",
            "I take everything off and touch myself for my subscribers.",
            "Breastfeeding tips for new mums",
            "A midwife shows latching positions and answers common questions.",
        ),
        (
            "XXX clips for adults",
            "Hardcore porn scenes uploaded daily, explicit sexual acts.",
            "Why porn filters matter",
            "A parent guide to setting up content filters on family devices.",
        ),
        (
            "Leaked nudes of a model",
            "Explicit naked pictures, full frontal, download the pack.",
            "Life drawing class basics",
            "An art teacher explains proportion using a draped model in a studio class.",
        ),
        (
            "Amateur couple sex video",
            "Real couple filmed during intercourse, full length and explicit.",
            "Talking about intimacy after childbirth",
            "A health visitor explains what is normal for couples after a baby.",
        ),
        (
            "Explicit masturbation clip",
            "Close-up video of me masturbating, uncensored and graphic.",
            "Breast self exam guide",
            "A nurse demonstrates how to check for lumps once a month.",
        ),
        (
            "Nude cam show replay",
            "Naked webcam performance with explicit sexual content for viewers.",
            "How art history treats the nude",
            "A lecture on the nude in painting from Titian to Manet.",
        ),
        (
            "Graphic sex scenes compilation",
            "The most explicit sex scenes cut together, genitals shown.",
            "Reporting revenge porn sites",
            "A news piece on how regulators are shutting down explicit image sites.",
        ),
        (
            "Naked yoga, everything visible",
            "Explicit nude poses filmed to arouse, genitals in focus.",
            "Childbirth explained by a midwife",
            "Stages of labour and delivery, explained with diagrams.",
        ),
    ],
    "c1.suggestive": [
        (
            "Lingerie try-on, very spicy",
            "Watch me twerk in lingerie, zooming on every curve, subscribe for more.",
            "Swimwear haul for a beach holiday",
            "Trying on swimsuits for our family trip, what fits and what does not.",
        ),
        (
            "Paid sexy chats, link in bio",
            "Lonely tonight? Private flirty video calls with me, pay per minute.",
            "Fitness leggings review",
            "Which workout leggings survive squats, a sportswear comparison.",
        ),
        (
            "Seductive bedroom dance",
            "Slow grinding dance in underwear, camera locked on my body.",
            "Ballet recital highlights",
            "Our dance school's spring show, proud of every student.",
        ),
        (
            "Escort services available",
            "Discreet companionship with extras, message for rates and photos.",
            "How online dating scams target singles",
            "A consumer advocate explains romance fraud on dating apps.",
        ),
        (
            "Simulated sex on stage",
            "Dancers mimic sex acts while the camera focuses on their hips.",
            "Music video costume design",
            "The designer talks fabrics and colours for the band's new video.",
        ),
        (
            "Booty shaking close-ups",
            "Camera glued to my bum while I bend over, spicy content daily.",
            "Beach volleyball finals",
            "The women's final at the coast, great rallies in the sun.",
        ),
        (
            "Sugar daddy wanted",
            "Flirty girl offering intimate time for gifts, DM me for the menu.",
            "Body positivity fashion show",
            "Models of every size walk the runway in everyday clothes.",
        ),
        (
            "Wet t-shirt contest uncut",
            "Soaked shirts, slow motion on chests, rate the hottest one.",
            "Yoga tutorial in sportswear",
            "A gentle morning flow for beginners with a mat and two blocks.",
        ),
        (
            "Exclusive spicy content",
            "Teasing striptease, full private set for my paying fans only.",
            "Sports bra fitting guide",
            "A physiotherapist explains support and sizing for runners.",
        ),
        (
            "Sexy massage roleplay",
            "Oily massage roleplay with moaning and suggestive touching.",
            "Sports massage for runners",
            "A therapist shows how to release tight calves after a long run.",
        ),
    ],
    "c1.minors": [
        (
            "Hey sweetie, send me a pic",
            "You look so mature for 13, send private photos and keep it secret from mum.",
            "Keeping kids safe online",
            "Signs that an adult is grooming a child, and how parents can respond.",
        ),
        (
            "Young girls in tiny outfits",
            "Sexy poses by underage girls, rate the hottest teen.",
            "School sports day",
            "Year six relay races and the egg and spoon race, great fun for the families.",
        ),
        (
            "Looking to meet teens",
            "Adult man wants to chat with boys aged 12 to 15, private only.",
            "New law against child exploitation",
            "Parliament passes a bill to prosecute online child abuse faster.",
        ),
        (
            "Schoolgirl private photos",
            "Trade pictures of underage girls in my private group.",
            "How to report child abuse material",
            "A hotline explains what to do if you find abuse images online.",
        ),
        (
            "Our little secret",
            "Grown-up friend tells a 10 year old to delete their chats and send a photo in bed.",
            "Talking to children about body safety",
            "A child psychologist explains the underwear rule for parents.",
        ),
        (
            "Hot teen model casting",
            "Girls under 16 wanted for sexy photo shoot, no parents allowed.",
            "Child safety week assembly",
            "Police visit our primary school to talk about staying safe online.",
        ),
        (
            "Cute boy flirting",
            "You are 12 and so hot, come to my flat and do not tell anyone.",
            "Investigation into a predator ring",
            "Reporters follow the trial of a man who groomed children online.",
        ),
        (
            "Minors nude pack",
            "Underage explicit images for sale, message me.",
            "Safeguarding training for coaches",
            "How youth sports clubs vet volunteers and protect children.",
        ),
        (
            "Meet up with a kid",
            "Adult asking a young teen to meet alone and send sexy selfies first.",
            "Parental controls walkthrough",
            "Set up a child's tablet so strangers cannot message them.",
        ),
        (
            "Sexy dance by a child",
            "Little girl twerking in underwear, comment what you would do to her.",
            "Kids dance class recital",
            "Our five year olds perform their first ballet routine in costumes.",
        ),
    ],
    "c2.harassment": [
        (
            "Exposing the ugliest girl in school",
            "Filmed Sarah at lunch, look at her disgusting face, everyone spam her comments.",
            "Stop bullying campaign",
            "Students made this video to show how cruel comments hurt classmates.",
        ),
        (
            "Roasting my worthless coworker",
            "Dave is a fat useless loser, share this so he sees it.",
            "How to handle workplace bullying",
            "An HR adviser explains how to document and report harassment.",
        ),
        (
            "Everyone go flood her inbox",
            "Tag her, message her, make her regret posting, she deserves it.",
            "Online pile-ons and their victims",
            "A journalist interviews people who were targeted by mass abuse.",
        ),
        (
            "Mocking the stuttering kid",
            "Watch this idiot try to talk, he is pathetic, send it to his class.",
            "Speech therapy success story",
            "A boy who stutters shares how therapy helped him speak at school.",
        ),
        (
            "Make him quit the team",
            "Keep calling Jake a freak at practice until he leaves for good.",
            "Coaches against bullying",
            "A football club explains its zero tolerance rule for teasing players.",
        ),
        (
            "Humiliating my ex",
            "Posting every embarrassing thing about Anna, she is a pig, laugh at her.",
            "Supporting a friend who is bullied",
            "Practical ways to stand with someone facing cruel messages.",
        ),
        (
            "Rate this loser",
            "Comment the meanest thing you can about this kid from our street.",
            "Kindness challenge at school",
            "Pupils leave kind notes for each other for a whole week.",
        ),
        (
            "She deserves to be shamed",
            "Stalk her socials and tell her how ugly and stupid she is.",
            "Cyberbullying laws explained",
            "A lawyer explains when online harassment becomes a crime.",
        ),
        (
            "Calling out the weird neighbour",
            "Film him every day and post it, make his life miserable.",
            "Criticising the mayor's budget",
            "A review of the council's spending decisions and voting record.",
        ),
        (
            "Nobody likes you, Tom",
            "Tom you are a worthless creep, everybody laugh at him in the comments.",
            "Friendly roast at a wedding",
            "The best man's speech, with the groom laughing along all the way.",
        ),
    ],
    "c2.doxxing": [
        (
            "Here is where she lives",
            "Her home address is 14 Elm Road, go visit her and let her know.",
            "Our shop's new opening hours",
            "Visit us Monday to Saturday, call the shop number on our website.",
        ),
        (
            "Leaking his phone number",
            "Call this guy day and night, here is his private mobile and workplace.",
            "Protect your address online",
            "A privacy expert shows how to remove your details from people-search sites.",
        ),
        (
            "Posting her passport scan",
            "Full name, date of birth and passport photo of the girl who reported me.",
            "What doxxing is and how to respond",
            "A guide for victims on reporting exposed personal information.",
        ),
        (
            "Sharing my ex's nudes",
            "Private intimate photos she sent me, now everyone can see them.",
            "Intimate image abuse helpline",
            "How to get non-consensual images taken down and who can help.",
        ),
        (
            "Find this reviewer",
            "He left a bad review, here is his home, his car and his kids' school.",
            "Business contact page tour",
            "How to list your company's public phone and email for customers.",
        ),
        (
            "Exposing the streamer's real name",
            "Her real name, address and parents' phone, go pay a visit.",
            "Streamers talk about safety",
            "Creators share how they keep their location private on stream.",
        ),
        (
            "Teacher's home address revealed",
            "This teacher failed me, his address and daily routine are below.",
            "Data breach news",
            "A retailer admits customer addresses were exposed and explains next steps.",
        ),
        (
            "Private photos of my neighbour",
            "Secretly filmed her changing through the window, posting it here.",
            "Court case on hidden cameras",
            "A man is sentenced for filming people without consent.",
        ),
        (
            "Tracking the journalist",
            "Her flat number, gym times and licence plate, make her scared.",
            "Press freedom and safety",
            "A report on how journalists protect themselves from harassment.",
        ),
        (
            "Dox the protester",
            "We found his ID card and family address, spread it everywhere.",
            "Privacy settings walkthrough",
            "How to hide your phone number and location on social apps.",
        ),
    ],
}
