"""The neutral background: text an upload carries when it violates nothing.

Most uploads are benign, and most of their text is short and generic: camera file names, "my video",
"part 2", "thanks for watching", everyday captions. Sentence similarity to a policy's wording is not small for
such text (MiniLM gives a generic media word like "clip" ≈ 0.3–0.5 cosine to policy sentences that describe
media, "A clip of two adults having sex"), so a policy may only flag a span whose similarity is unusually high
*relative to this background*. The calibration (engines/text/calibrate.py) standardises every similarity by its
mean and spread over the `fit` half of the background, adds the background to the negatives of every fit, and
places each policy's review point above the background's upper tail. The `heldout` half, and the generic titles
in `HELDOUT_TITLES` (never part of the background), are what the neutral false-positive rates are measured on.

Generic titles are generated from templates (deterministic); captions and on-screen phrases are written out.
"""

from __future__ import annotations

import random

# Titles the neutral-title FPR is measured on; kept out of the background (held out by construction).
HELDOUT_TITLES = (
    "my upload",
    "video",
    "IMG_1234",
    "holiday clip",
    "new video",
    "test",
    "untitled",
    "clip 2",
    "VID_20240101",
    "hello",
    "my vlog",
    "photo",
    "watch this",
    "day 1",
    "Screen Recording 2024-03-02",
    "our trip",
    "final version",
    "DSC_0042",
    "birthday",
    "weekend",
)

_MEDIA_WORDS = (
    "video",
    "clip",
    "photo",
    "pic",
    "upload",
    "post",
    "vlog",
    "reel",
    "story",
    "recording",
    "edit",
    "draft",
)
_QUALIFIERS = ("my", "our", "new", "first", "latest", "quick", "short", "funny", "random", "another", "the", "old")
_OCCASIONS = (
    "holiday", "vacation", "wedding", "party", "trip", "school", "work", "family", "weekend", "summer",
    "christmas", "beach", "garden", "kitchen", "gym", "concert", "graduation", "road trip", "camping", "picnic",
)  # fmt: skip
_SUFFIXES = ("", " 2", " part 3", " #12", " (1)", " final", " v2", " 2023", " June", " day 4", " lol", "!!")

CAPTIONS = (
    "Making homemade bread for the first time",
    "Three easy breakfast ideas for busy mornings",
    "Chocolate cake recipe without an oven",
    "How I meal prep for the whole week",
    "Trying street food in Bangkok",
    "Vegan lasagna that everyone loved",
    "Grilled salmon with lemon and herbs",
    "My grandmother's apple pie",
    "Sunrise over the mountains this morning",
    "Driving along the coast in autumn",
    "A rainy afternoon walk in the old town",
    "Packing tips for a long flight",
    "Our road trip through Scotland, part two",
    "Snorkelling with turtles on holiday",
    "Camping by the lake under the stars",
    "City lights from the rooftop at night",
    "Puppy meets the kitten for the first time",
    "My dog refuses to get out of bed",
    "Feeding the ducks at the park",
    "Horse riding lesson, week three",
    "Parrot sings along to the radio",
    "Hamster obstacle course",
    "Full body workout in twenty minutes",
    "Marathon training, long run Sunday",
    "Beginner skateboard tricks",
    "Tennis serve technique explained",
    "Highlights from the under-12 match",
    "Swimming laps before work",
    "Cycling up the steepest hill in town",
    "Learning to juggle three balls",
    "Unboxing the new laptop",
    "How to set up a home wifi network",
    "Phone camera settings for better photos",
    "Building my first gaming PC",
    "Review: wireless headphones after one month",
    "Coding a to-do app in Python",
    "Piano cover of a classic song",
    "Drum practice, trying a new rhythm",
    "Singing with friends around the campfire",
    "Our band rehearsing for the school concert",
    "Watercolour painting of a sunflower",
    "Knitting a scarf for winter",
    "Woodworking: a small oak table",
    "Repotting houseplants on the balcony",
    "Planting tomatoes in the vegetable garden",
    "Cleaning out the garage before spring",
    "Room makeover on a small budget",
    "Assembling flat-pack furniture",
    "History of the Roman aqueducts",
    "Why is the sky blue? Simple physics",
    "Chemistry experiment with baking soda",
    "Study with me for two hours",
    "Spanish vocabulary for beginners",
    "Tips for writing a good essay",
    "The life cycle of a butterfly",
    "Visiting the science museum with the kids",
    "First day at the new job",
    "Behind the scenes at our bakery",
    "A day in the life of a nurse",
    "Our wedding day highlights",
    "Baby's first steps",
    "Family reunion at the farm",
    "Opening presents on Christmas morning",
    "Graduation ceremony, class of 2024",
    "Surprise party for my sister",
    "Local election results announced",
    "Weather forecast: sunny with light winds",
    "Town library reopens after renovation",
    "New train line opens next month",
    "Farmers report a good harvest this year",
    "Makeup tutorial for a natural look",
    "Trying on autumn outfits",
    "How I style short hair",
    "Skincare routine before bed",
    "Reading my favourite books of the year",
    "Film review of the new animated movie",
    "Playing chess against my brother",
    "Speedrun of a classic platform game",
    "Let's play: building a castle",
    "Magic trick revealed",
    "Stand-up comedy night at the pub",
    "Car maintenance: checking tyre pressure",
    "Fixing a leaking kitchen tap",
    "Saving money on groceries",
    "How to make a monthly budget",
    "Small business update: new products in stock",
    "Opening hours this weekend: 9 to 5",
    "Summer sale, 20% off all shoes",
    "Come visit our stall at the market",
    "Meet the team behind the café",
)

ON_SCREEN = (
    "Subscribe for more",
    "Thanks for watching",
    "Like and share",
    "Follow for part 2",
    "Link in bio",
    "Coming soon",
    "Part 1",
    "The End",
    "Day 3",
    "Wait for it...",
    "Before / After",
    "Step 1: preheat the oven",
    "Ingredients: flour, sugar, eggs",
    "Add salt to taste",
    "Score: 2 - 1",
    "Final lap",
    "Happy New Year!",
    "Welcome to my channel",
    "Good morning everyone",
    "Don't forget to stretch",
    "Chapter 4: the journey home",
    "Recorded on my phone",
    "Music: acoustic guitar",
    "Live from the studio",
    "See you next week",
    "Question of the day: favourite food?",
    "Sound on",
    "Slow motion",
    "Breaking: local team wins cup",
    "Sponsored by a local bakery",
)


def generic_titles(count: int = 160, seed: int = 11) -> list[str]:
    """File-name and generic titles the way uploaders leave them (camera names, "my clip 2", "beach video")."""
    rng = random.Random(seed)
    held = {t.lower() for t in HELDOUT_TITLES}
    titles: list[str] = []
    makers = (
        lambda: f"IMG_{rng.randint(1000, 9999)}",
        lambda: (
            f"VID_{rng.randint(2018, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            f"_{rng.randint(0, 235959):06d}"
        ),
        lambda: f"DSC{rng.randint(10000, 99999)}",
        lambda: f"PXL_{rng.randint(2019, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
        lambda: f"Screenshot {rng.randint(2018, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        lambda: f"{rng.choice(_QUALIFIERS)} {rng.choice(_MEDIA_WORDS)}{rng.choice(_SUFFIXES)}",
        lambda: f"{rng.choice(_OCCASIONS)} {rng.choice(_MEDIA_WORDS)}{rng.choice(_SUFFIXES)}",
        lambda: f"{rng.choice(_QUALIFIERS)} {rng.choice(_OCCASIONS)}{rng.choice(_SUFFIXES)}",
        lambda: f"{rng.choice(_MEDIA_WORDS)}{rng.choice(_SUFFIXES)}",
        lambda: rng.choice(_OCCASIONS),
    )
    seen: set[str] = set()
    while len(titles) < count:
        title = rng.choice(makers)().strip()
        if title.lower() in held or title.lower() in seen:
            continue
        seen.add(title.lower())
        titles.append(title)
    return titles


def background(split: str | None = None) -> list[str]:
    """The background texts; `split` "fit" or "heldout" takes every other one (None: all)."""
    texts = generic_titles() + list(CAPTIONS) + list(ON_SCREEN)
    if split is None:
        return texts
    offset = {"fit": 0, "heldout": 1}[split]
    return texts[offset::2]
