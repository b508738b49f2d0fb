"""``--lexicon FILE``: say words the way you mean them (names, acronyms, jargon).

One rule a line, applied to the cleaned text before chunking, in file order (a rule sees the
text as the rules above it left it)::

    # a comment: a whole line starting with #; blank lines are ignored too
    Nguyen = Win
    sql = sequel
    re:(\\d+) ?km\\b = \\1 kilometres

- ``word = replacement``: the word as a whole word (Unicode word boundaries: not inside a
  longer word), ignoring case when the word is written all in lowercase, matching case exactly
  when it has a capital; the replacement is literal.
- ``re:PATTERN = replacement``: a Python regular expression; the replacement may use ``\\1``
  or ``\\g<name>``. A pattern that can match nothing (the empty string) is refused.

The first ``=`` with a space on each side separates the two; a line without one splits at its
first ``=``. A bad rule is refused with the file and line; so are a missing or non-UTF-8 file.
These are usage errors (exit 2): the lexicon is the value of an option, not the text spoken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from voiceclone_cli.errors import UsageError, open_error
from voiceclone_cli.prepare.text import decode_text_bytes

# A pattern that can match the empty string (``a*``, ``\b``, a lookahead) would insert its
# replacement between characters. Its shortest match is read from the regex parser; this probe
# text is the fallback where that parser is not available.
_PROBE = "Aa1 _.,;:-'\"\n\tZé9xyz "


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    replacement: str
    line: int
    regex: bool

    def apply(self, text: str) -> str:
        if self.regex:  # an empty match the load-time probe missed replaces nothing
            return self.pattern.sub(lambda m: m.expand(self.replacement) if m.end() > m.start() else "", text)
        return self.pattern.sub(lambda _: self.replacement, text)


@dataclass(frozen=True)
class Lexicon:
    rules: tuple[Rule, ...] = ()
    origin: str = "lexicon"

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise open_error(exc, "lexicon file", path, "--lexicon", UsageError) from None
        return cls.parse(decode_text_bytes(data, f"lexicon file {path}", UsageError), str(path))

    @classmethod
    def parse(cls, text: str, origin: str = "lexicon") -> Lexicon:
        rules = []
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                rules.append(_rule(stripped, number, origin))
        return cls(tuple(rules), origin)

    def apply(self, text: str) -> str:
        for rule in self.rules:
            text = rule.apply(text)
        return text


def _refuse(origin: str, line: int, problem: str) -> UsageError:
    return UsageError(
        f"{origin} line {line}: {problem}",
        hint="write rules as 'word = replacement' or 're:PATTERN = replacement'",
    )


def _split(line: str) -> tuple[str, str] | None:
    spaced = re.search(r"\s=\s", line)
    if spaced:
        return line[: spaced.start()].strip(), line[spaced.end():].strip()
    if "=" in line:
        left, right = line.split("=", 1)
        return left.strip(), right.strip()
    return None


def _rule(line: str, number: int, origin: str) -> Rule:
    parts = _split(line)
    if parts is None:
        raise _refuse(origin, number, f"no '=' in {line!r}")
    word, replacement = parts
    if word.lower().startswith("re:"):
        return _regex_rule(word[3:].strip(), replacement, number, origin)
    if not word:
        raise _refuse(origin, number, "nothing to replace before '='")
    flags = 0 if any(ch.isupper() for ch in word) else re.IGNORECASE
    pattern = re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)", flags)
    return Rule(pattern, replacement, number, regex=False)


def _regex_rule(source: str, replacement: str, number: int, origin: str) -> Rule:
    if not source:
        raise _refuse(origin, number, "empty pattern after 're:'")
    try:
        pattern = re.compile(source)
    except re.error as exc:
        raise _refuse(origin, number, f"bad regular expression {source!r}: {exc}") from None
    try:
        pattern.sub(replacement, "")  # checks the replacement's group references
    except (re.error, IndexError) as exc:
        raise _refuse(origin, number, f"bad replacement {replacement!r}: {exc}") from None
    if _can_match_empty(pattern):
        raise _refuse(origin, number, f"the pattern {source!r} can match the empty string")
    return Rule(pattern, replacement, number, regex=True)


def _can_match_empty(pattern: re.Pattern[str]) -> bool:
    try:
        try:
            from re import _parser as parser  # Python 3.11+
        except ImportError:  # pragma: no cover - Python 3.10
            import sre_parse as parser  # type: ignore[no-redef]
        return parser.parse(pattern.pattern, pattern.flags).getwidth()[0] == 0
    except Exception:  # noqa: BLE001 - a private API: fall back to probing
        return bool(pattern.fullmatch("")) or any(m.start() == m.end() for m in pattern.finditer(_PROBE))
