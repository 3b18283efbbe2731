"""A generator of realistic Pakistani patient records and labelled pairs of them, for the duplicate scorer.

Same-person pairs: one patient registered twice the ways desks do it: the name and father's name spelled another
way (the common variants, a dropped vowel, a doubled or undoubled letter, `Muhammad` dropped or shortened), the date
of birth given once as an age, the phone left out once or written another way, the CNIC brought only once; a few
written in Urdu script, once with diacritics and Arabic letter forms.
Different-people pairs: the hard ones a desk meets every day: the same common name and father's name (exactly or
spelled another way), but another date of birth and another phone; and relatives sharing a phone and surname.
Deterministic for a seed.
"""

import random
from datetime import date, timedelta

from patients.duplicates import Record

MALE = ["Muhammad Ali", "Ahmed Raza", "Bilal", "Usman", "Imran", "Asif", "Zeeshan", "Faisal", "Kamran", "Tariq",
        "Abdul Rehman", "Hamza", "Hassan", "Hussain", "Shahid", "Naveed", "Adnan", "Waqas", "Junaid", "Irfan",
        "Saqib", "Muhammad Asif", "Muhammad Bilal", "Muhammad Usman", "Ghulam Abbas", "Noman", "Yousaf", "Arshad"]
FEMALE = ["Ayesha", "Fatima", "Zainab", "Maryam", "Sana", "Hina", "Saima", "Nadia", "Rabia", "Amna", "Khadija",
          "Shazia", "Nasreen", "Samina", "Iqra", "Mehwish", "Sadia", "Bushra", "Kiran", "Uzma"]
SURNAMES = ["Khan", "Ahmed", "Malik", "Butt", "Chaudhry", "Qureshi", "Sheikh", "Siddiqui", "Hussain", "Raja",
            "Awan", "Mirza", "Baig", "Shah", "Javed", "Iqbal", "Abbasi", "Khokhar", "Rana", "Bhatti"]
FATHERS = ["Muhammad Aslam", "Muhammad Iqbal", "Ghulam Hussain", "Abdul Rehman", "Muhammad Yousaf", "Allah Ditta",
           "Muhammad Ashraf", "Muhammad Akram", "Bashir Ahmed", "Nazir Ahmed", "Muhammad Sadiq", "Manzoor Hussain",
           "Muhammad Riaz", "Abdul Ghafoor", "Muhammad Arif", "Zafar Iqbal", "Khalid Mehmood", "Tariq Mehmood"]
# Spellings desks write for the same name (more than the scorer's table knows: the scorer must cope with the rest).
RESPELL = {
    "Muhammad": ["Mohammad", "Muhammed", "Mohammed", "Muhd", "Mohd", "Md."], "Ayesha": ["Aisha", "Aysha"],
    "Khan": ["Kahn"], "Ahmed": ["Ahmad"], "Rehman": ["Rahman"], "Hussain": ["Husain", "Hussein"],
    "Chaudhry": ["Chaudhary", "Choudhry"], "Siddiqui": ["Siddiqi"], "Qureshi": ["Qureshy"], "Usman": ["Osman"],
    "Zeeshan": ["Zishan"], "Fatima": ["Fatimah"], "Zainab": ["Zaynab"], "Yousaf": ["Yousuf", "Yusuf"],
    "Mehmood": ["Mahmood", "Mehmud"], "Aslam": ["Aslum"], "Ashraf": ["Ashrf"], "Naveed": ["Navid"],
    "Waqas": ["Waqqas"], "Bilal": ["Billal", "Bilaal"], "Hassan": ["Hasan"], "Raza": ["Rza"],
}
URDU_PEOPLE = [("محمد علی", "محمد اسلم"), ("عائشہ بی بی", "غلام حسین"), ("فاطمہ", "محمد اقبال"),
               ("بلال احمد", "بشیر احمد"), ("زینب", "عبدالرحمن")]
# The same Urdu names as another keyboard writes them: diacritics (shadda, zabar) and Arabic letter forms.
URDU_VARIANT = str.maketrans({"ی": "ي", "ک": "ك", "ہ": "ه"})


def _respell(name: str, rng: random.Random) -> str:
    """`name` as another desk writes it: known variants, a dropped vowel, a doubled letter, or the first word
    dropped when it is Muhammad."""
    words = name.split()
    choice = rng.random()
    if choice < 0.15 and len(words) > 1 and words[0] == "Muhammad":
        return " ".join(words[1:]) if rng.random() < 0.5 else " ".join(["Muhd", *words[1:]])
    changed = [rng.choice(RESPELL[w]) if w in RESPELL and rng.random() < 0.7 else w for w in words]
    if changed == words or choice > 0.8:
        i = rng.randrange(len(changed))
        word = changed[i]
        vowels = [k for k, ch in enumerate(word) if ch in "aeiou" and 0 < k < len(word) - 1]
        if vowels and rng.random() < 0.5:
            k = rng.choice(vowels)
            changed[i] = word[:k] + word[k + 1:]  # a dropped vowel: Kamran -> Kamrn
        elif len(word) > 3:
            k = rng.randrange(1, len(word) - 1)
            changed[i] = word[:k] + word[k] + word[k:]  # a doubled letter: Imran -> Immran
    return " ".join(changed)


def _phone(rng: random.Random) -> str:
    return f"03{rng.randint(0, 4)}{rng.randint(0, 9)}-{rng.randint(1000000, 9999999)}"


def _cnic(rng: random.Random) -> str:
    return f"{rng.randint(10000, 99999)}-{rng.randint(1000000, 9999999)}-{rng.randint(1, 9)}"


def person(rng: random.Random, *, today: date = date(2026, 12, 1)) -> Record:
    """A made-up patient: name, father's name, date of birth, sex, phone, sometimes a CNIC."""
    sex = rng.choice("MF")
    first = rng.choice(MALE if sex == "M" else FEMALE)
    father = rng.choice(FATHERS)
    surname = rng.choice(SURNAMES)
    name = f"{first} {surname}" if rng.random() < 0.6 else first
    dob = today - timedelta(days=rng.randint(365, 80 * 365))
    return Record(full_name=name, father_name=father, dob=dob, sex=sex, phone=_phone(rng),
                  cnic=_cnic(rng) if rng.random() < 0.4 else "")


def second_registration(original: Record, rng: random.Random, *, today: date = date(2026, 12, 1)) -> Record:
    """The same patient registered again: respelled, maybe as an age, maybe without phone or CNIC."""
    dob, estimated = original.dob, False
    if rng.random() < 0.3:  # the desk typed an age: 1 January of the year the age gives (patients/dob.py)
        age = (today - original.dob).days // 365
        dob, estimated = date(today.year - age, today.month, 1), True
    phone = original.phone
    roll = rng.random()
    if roll < 0.25:
        phone = ""
    elif roll < 0.45:
        phone = "+92 " + original.phone[1:].replace("-", " ")
    return Record(
        full_name=_respell(original.full_name, rng),
        father_name=_respell(original.father_name, rng) if rng.random() < 0.6 else original.father_name,
        dob=dob, dob_estimated=estimated, sex=original.sex, phone=phone,
        cnic="" if rng.random() < 0.7 else original.cnic,
    )


def namesake(original: Record, rng: random.Random, *, today: date = date(2026, 12, 1)) -> Record:
    """Another person with the same (or a respelled) name and father's name: another phone, and another date of
    birth or (one in five) none recorded."""
    other = person(rng, today=today)
    dob = original.dob + timedelta(days=rng.choice([-1, 1]) * rng.randint(3 * 365, 30 * 365))
    return Record(
        full_name=original.full_name if rng.random() < 0.6 else _respell(original.full_name, rng),
        father_name=original.father_name if rng.random() < 0.7 else _respell(original.father_name, rng),
        dob=None if rng.random() < 0.2 else min(dob, today), sex=original.sex, phone=other.phone, cnic=other.cnic,
    )


def relative(original: Record, rng: random.Random) -> Record:
    """A sibling at the same phone: the same father, another first name, another date of birth."""
    sibling = person(rng)
    surname = original.full_name.split()[-1]
    return Record(full_name=f"{sibling.full_name.split()[0]} {surname}", father_name=original.father_name,
                  dob=sibling.dob, sex=sibling.sex, phone=original.phone)


def urdu_pairs(rng: random.Random) -> list[tuple[Record, Record, bool]]:
    """Pairs written in Urdu: the same patient with and without diacritics or with Arabic letter forms; and a
    namesake with another date of birth and phone."""
    pairs = []
    for name, father in URDU_PEOPLE:
        original = person(rng)
        original = Record(full_name=name, father_name=father, dob=original.dob, sex=original.sex, phone=original.phone)
        marked = name.replace("محمد", "مُحمّد").translate(URDU_VARIANT)
        pairs.append((original, Record(full_name=marked, father_name=father.translate(URDU_VARIANT),
                                       dob=original.dob, sex=original.sex, phone=original.phone), True))
        pairs.append((original, namesake(original, rng), False))
    return pairs


def labelled_pairs(count: int = 300, *, seed: int = 29) -> list[tuple[Record, Record, bool]]:
    """`count` (at least) pairs `(a, b, same_patient)`: half the same patient registered twice, half different
    people (namesakes sharing the name and father's name, and relatives sharing a phone), plus the Urdu pairs."""
    rng = random.Random(seed)
    pairs = urdu_pairs(rng)
    while len(pairs) < count:
        original = person(rng)
        pairs.append((original, second_registration(original, rng), True))
        other = namesake(original, rng) if rng.random() < 0.8 else relative(original, rng)
        pairs.append((original, other, False))
    return pairs
