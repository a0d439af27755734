"""Hand-written name parts for synthetic people. Combinations are random, never real people.

Surnames are invented place-like words so that a demo name reads as obviously synthetic.
"""

from __future__ import annotations

import random

__all__ = [
    "CLINICIAN_TITLES",
    "FEMALE_GIVEN",
    "INTERPRETER_LANGUAGES",
    "MALE_GIVEN",
    "SURNAMES",
    "clinician_name",
    "person_name",
]

FEMALE_GIVEN = (
    "Ada", "Bea", "Cora", "Dina", "Edie", "Faye", "Gwen", "Hana", "Iris", "June", "Kaya",
    "Lena", "Mara", "Nell", "Opal", "Pia", "Rosa", "Sage", "Tess", "Una", "Vera", "Wren",
    "Yara", "Zoe", "Alba", "Bryn", "Clio", "Dara", "Elin", "Fern", "Gia", "Hazel", "Ines",
    "Jada", "Kira", "Lila", "Mina", "Nora", "Oona", "Rhea",
)
MALE_GIVEN = (
    "Abe", "Bram", "Cal", "Dov", "Eli", "Finn", "Gus", "Hal", "Ivo", "Jude", "Kai", "Leo",
    "Milo", "Ned", "Otis", "Pax", "Quin", "Rex", "Sol", "Tate", "Uri", "Vic", "Wade", "Xan",
    "Yuri", "Zed", "Alek", "Bo", "Cyd", "Dane", "Emil", "Ford", "Gil", "Hugo", "Ike", "Jon",
    "Knox", "Lars", "Moss", "Nico",
)
SURNAMES = (
    "Alderwick", "Ashbrook", "Bramblet", "Brindlemoor", "Calloway-Finch", "Cinderhall",
    "Copperfield", "Dunmere", "Elmsworth", "Fallowmere", "Farrowdale", "Fenwright",
    "Glenhollow", "Greystead", "Harrowgate", "Hazelbrook", "Hollins", "Ivorydale",
    "Juniperly", "Kestrelton", "Kindlewood", "Larkspur", "Lindenfall", "Marrowby",
    "Mistlecombe", "Northam", "Oakhurst", "Orrin", "Pebblewood", "Pennyworth", "Quillan",
    "Ravenholt", "Redmere", "Rookwood", "Saltmarsh", "Sedgewick", "Silverbirch", "Stonebridge",
    "Tamberlin", "Thistledown", "Tillbury", "Umberleigh", "Vantaran", "Wexcombe", "Whitlow",
    "Willowby", "Wrenfield", "Yarrowby", "Zellington", "Amberly", "Blackmere", "Corriveau",
    "Delacort", "Esterbrook", "Foxhollow", "Galloway-Pike", "Hartwell", "Ingleby", "Jessamine",
    "Kingsolver",
)
CLINICIAN_TITLES = {"surgeon": "Dr.", "physician": "Dr.", "radiologist": "Dr.",
                    "anesthesiologist": "Dr."}

# Languages of patients who need an interpreter, with their share of those patients.
INTERPRETER_LANGUAGES: tuple[tuple[str, float], ...] = (
    ("es", 0.55), ("zh", 0.12), ("vi", 0.10), ("ar", 0.09), ("ru", 0.07), ("pt", 0.07),
)


def person_name(rng: random.Random, sex: str) -> str:
    """A synthetic "Given Surname" for a patient of ``sex``."""
    given = FEMALE_GIVEN if sex == "female" else MALE_GIVEN if sex == "male" else (
        FEMALE_GIVEN + MALE_GIVEN)
    return f"{rng.choice(given)} {rng.choice(SURNAMES)}"


def clinician_name(rng: random.Random, profession: str) -> str:
    """A synthetic clinician name with a title."""
    given = rng.choice(FEMALE_GIVEN + MALE_GIVEN)
    title = CLINICIAN_TITLES.get(profession, "")
    return f"{title} {given} {rng.choice(SURNAMES)}".strip()
