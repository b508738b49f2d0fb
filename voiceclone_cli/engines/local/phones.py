"""Shared phone inventory for both sides of the voice matcher.

The sample side is labelled by PocketSphinx (ARPAbet phones), the synthesis side by
Piper's espeak IPA phonemes. Both are mapped to the same integer codes so the matcher
can compare frames of the same phone.
"""

from __future__ import annotations

SILENCE = "SIL"

ARPABET = (
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG "
    "OW OY P R S SH T TH UH UW V W Y Z ZH"
).split()

#: Phone names indexed by code; code 0 is silence (also used for unknown sounds).
PHONES: tuple[str, ...] = (SILENCE, *ARPABET)
PHONE_CODE: dict[str, int] = {name: code for code, name in enumerate(PHONES)}
SILENCE_CODE = 0

_BROAD_CLASS_MEMBERS = {
    1: "AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW",  # vowels
    2: "P B T D K G",  # stops
    3: "F V TH DH S Z SH ZH HH",  # fricatives
    4: "CH JH",  # affricates
    5: "M N NG",  # nasals
    6: "L R W Y",  # approximants
}

#: Broad phonetic class per phone code (0 = silence), used when a phone is too rare in
#: the sample to match against frames of that exact phone.
BROAD_CLASS: tuple[int, ...] = tuple(
    next((cls for cls, members in _BROAD_CLASS_MEMBERS.items() if name in members.split()), 0)
    for name in PHONES
)

# espeak-ng IPA (as emitted by Piper for en-us) to ARPAbet. Two-character units are
# matched before single characters.
_IPA_UNITS = {
    "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "ɔɪ": "OY", "tʃ": "CH", "dʒ": "JH",
    "ɑ": "AA", "ɒ": "AA", "a": "AA", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH",
    "ɔ": "AO", "ɛ": "EH", "ɚ": "ER", "ɜ": "ER", "e": "EY", "ɪ": "IH", "ᵻ": "IH",
    "i": "IY", "o": "OW", "ʊ": "UH", "u": "UW",
    "b": "B", "d": "D", "ð": "DH", "f": "F", "ɡ": "G", "g": "G", "h": "HH", "x": "HH",
    "ç": "HH", "k": "K", "l": "L", "ɫ": "L", "ɬ": "L", "m": "M", "n": "N", "ŋ": "NG",
    "p": "P", "ɹ": "R", "r": "R", "s": "S", "ʃ": "SH", "t": "T", "θ": "TH", "v": "V",
    "w": "W", "j": "Y", "z": "Z", "ʒ": "ZH", "ɾ": "D", "ʔ": "T",
}
# Marks that belong to the preceding unit (length, syllabic, palatalised).
_ATTACH_TO_PREVIOUS = {"ː", "ˑ", "\u0329", "ʲ"}
# Stress marks belong to the following unit.
_ATTACH_TO_NEXT = {"ˈ", "ˌ"}
# Word boundary: its duration is coarticulation, shared between the neighbouring phones.
_WORD_BOUNDARY = " "


def ipa_segments(symbols: list[str], durations: list[int]) -> list[tuple[int, int]]:
    """Turn Piper's per-symbol alignment into (phone code, duration) segments.

    ``symbols`` are Piper's aligned phoneme symbols (including its BOS/EOS markers and
    punctuation) and ``durations`` their sample counts. Punctuation and markers become
    silence; stress and length marks are merged into the phone they modify; the
    duration of a word boundary is split between the two neighbouring phones.
    """
    units: list[list] = []  # [code, duration, kind] with kind in {"phone", "sil", "space"}
    pending_next = 0
    i = 0
    while i < len(symbols):
        sym, dur = symbols[i], int(durations[i])
        pair = sym + symbols[i + 1] if i + 1 < len(symbols) else ""
        if pair in _IPA_UNITS:
            units.append([PHONE_CODE[_IPA_UNITS[pair]], dur + int(durations[i + 1]) + pending_next, "phone"])
            pending_next = 0
            i += 2
            continue
        if sym in _IPA_UNITS:
            units.append([PHONE_CODE[_IPA_UNITS[sym]], dur + pending_next, "phone"])
            pending_next = 0
        elif sym in _ATTACH_TO_PREVIOUS and units:
            units[-1][1] += dur
        elif sym in _ATTACH_TO_NEXT:
            pending_next += dur
        elif sym == _WORD_BOUNDARY:
            units.append([SILENCE_CODE, dur + pending_next, "space"])
            pending_next = 0
        else:
            units.append([SILENCE_CODE, dur + pending_next, "sil"])
            pending_next = 0
        i += 1
    if pending_next and units:
        units[-1][1] += pending_next

    for k, unit in enumerate(units):
        if unit[2] != "space":
            continue
        prev_phone = k > 0 and units[k - 1][2] == "phone"
        next_phone = k + 1 < len(units) and units[k + 1][2] == "phone"
        if prev_phone and next_phone:
            half = unit[1] // 2
            units[k - 1][1] += half
            units[k + 1][1] += unit[1] - half
            unit[1] = 0
        elif prev_phone:
            units[k - 1][1] += unit[1]
            unit[1] = 0
        elif next_phone:
            units[k + 1][1] += unit[1]
            unit[1] = 0
    return [(code, dur) for code, dur, _ in units if dur > 0]
