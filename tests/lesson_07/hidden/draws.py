"""The inputs of lesson 7's hidden checks, drawn from word lists by the `hidden_random` fixture (alfred.judge.hidden).

Every draw is valid for what the lesson asks, and never one of the visible tests' inputs: a report name is
"<villain>'s <subject> near <place>" (the visible names have no "near", and each drawn one is longer than 30
characters), an address is "<first>.<last><number>@<domain>" on domains email-validator accepts as
pydantic's EmailStr checks them (no deliverability check; no special-use names such as .test or .local), and
a malformed address is one EmailStr rejects although it has the shape a quick pattern (`x@y.z`, no spaces)
lets through. tests/kit/test_hidden.py checks these promises over every word.
"""

from __future__ import annotations

import random

VILLAINS = ["Penguin", "Riddler", "Joker", "Two-Face", "Catwoman", "Scarecrow", "Bane", "Poison Ivy", "Mr. Freeze",
            "Killer Croc", "Hush", "Ra's al Ghul", "Harley Quinn", "Mad Hatter", "Clayface", "Firefly", "Black Mask"]
SUBJECTS = ["smuggling routes", "weapons caches", "known associates", "escape plans", "shipping manifests",
            "radio chatter", "getaway cars", "bank transfers", "hideout blueprints", "forged passports"]
PLACES = ["the Narrows", "Crime Alley", "the Iceberg Lounge", "Arkham Asylum", "the docks", "Old Gotham",
          "Blackgate", "Ace Chemicals", "Amusement Mile", "Robinson Park"]
FIRST = ["bruce", "alfred", "barbara", "dick", "selina", "lucius", "jim", "harvey", "leslie", "renee", "vicki",
         "cassandra", "tim", "kate", "helena", "stephanie", "jason", "damian"]
LAST = ["wayne", "pennyworth", "gordon", "grayson", "kyle", "fox", "dent", "thompkins", "montoya", "vale", "cain",
        "drake", "kane", "bertinelli", "brown", "todd"]
DOMAINS = ["gotham.gov", "gcpd.gotham.gov", "wayne.enterprises", "wayne-manor.co.uk", "arkham-asylum.org",
           "blackgate.net", "daily-planet.com", "wayne-tech.io", "gotham-library.org", "example.com"]
VERBS = ["Reviewed", "Calibrated", "Repaired", "Scanned", "Updated", "Tested", "Cleaned", "Encrypted", "Refuelled"]
THINGS = ["the Batmobile", "the Batwing", "the grapple gun", "the Batcave servers", "the Bat-Signal",
          "the utility belt", "the cowl's lenses", "the evidence locker", "the Batboat"]
# Each makes a malformed address from a well-formed local part and domain; EmailStr rejects all of them.
MALFORMED = [
    lambda local, domain: f"{local.replace('.', '..', 1)}@{domain}",  # two periods in a row
    lambda local, domain: f"{local}.@{domain}",  # a period just before the @
    lambda local, domain: f".{local}@{domain}",  # a leading period
    lambda local, domain: f"{local}@-{domain}",  # a hyphen just after the @
    lambda local, domain: f"{local}@{domain}.",  # a trailing period
    lambda local, domain: f"{local}@{domain.replace('.', '_', 1)}.org",  # an underscore in the domain
    lambda local, domain: f"{local.replace('.', ',', 1)}@{domain}",  # a comma in the local part
    lambda local, domain: f"{local}@{domain}-",  # a trailing hyphen
]


def report_name(rng: random.Random) -> str:
    return f"{rng.choice(VILLAINS)}'s {rng.choice(SUBJECTS)} near {rng.choice(PLACES)}"


def local_part(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)}.{rng.choice(LAST)}{rng.randint(2, 99)}"


def email(rng: random.Random) -> str:
    return f"{local_part(rng)}@{rng.choice(DOMAINS)}"


def malformed_email(rng: random.Random) -> str:
    return rng.choice(MALFORMED)(local_part(rng), rng.choice(DOMAINS))


def activity(rng: random.Random) -> str:
    return f"{rng.choice(VERBS)} {rng.choice(THINGS)}"


def distinct(rng: random.Random, draw, count: int) -> list:
    """`count` different draws of `draw`."""
    found: list = []
    while len(found) < count:
        value = draw(rng)
        if value not in found:
            found.append(value)
    return found
