"""--lexicon rules: whole words, case rules, regexes, file order, and refusals naming the line."""

from __future__ import annotations

import pytest

from voiceclone_cli.errors import ExitCode, UsageError
from voiceclone_cli.prepare.lexicon import Lexicon


def lexicon(tmp_path, text: str, name: str = "words.lex") -> Lexicon:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return Lexicon.load(path)


def test_lowercase_words_match_any_case_and_only_whole_words(tmp_path):
    rules = lexicon(tmp_path, "sql = sequel\n")
    assert rules.apply("SQL, Sql and sql; mysql and sqlite stay.") == "sequel, sequel and sequel; mysql and sqlite stay."


def test_words_with_capitals_match_their_case_exactly(tmp_path):
    rules = lexicon(tmp_path, "US = United States\n")
    assert rules.apply("The US told us.") == "The United States told us."


def test_word_boundaries_are_unicode_and_symbols_work(tmp_path):
    rules = lexicon(tmp_path, "café = coffee shop\nC# = C sharp\n")
    assert rules.apply("Café cafés; C# and C#s.") == "coffee shop cafés; C sharp and C#s."


def test_replacements_are_literal_for_words_and_expand_groups_for_regexes(tmp_path):
    rules = lexicon(tmp_path, "cost = \\1 $&\nre:(\\d+) ?km\\b = \\1 kilometres\nre:(?P<n>\\d+)% = \\g<n> percent\n")
    assert rules.apply("The cost: 12km, 3 km, 50%.") == "The \\1 $&: 12 kilometres, 3 kilometres, 50 percent."


def test_rules_apply_in_file_order_each_seeing_the_previous_result(tmp_path):
    rules = lexicon(tmp_path, "Dr = Doctor\nDoctor = Physician\n")
    assert rules.apply("Dr Who") == "Physician Who"
    reversed_rules = lexicon(tmp_path, "Doctor = Physician\nDr = Doctor\n", "other.lex")
    assert reversed_rules.apply("Dr Who") == "Doctor Who"


def test_comments_blank_lines_bom_and_equals_in_replacement(tmp_path):
    path = tmp_path / "x.lex"
    path.write_bytes("\ufeff# names\n\n   \nNguyen = Win\n  # indented comment\nre:a=b = a equals b\n".encode())
    rules = Lexicon.load(path)
    assert len(rules.rules) == 2
    assert rules.apply("Mr Nguyen: a=b") == "Mr Win: a equals b"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("no separator here", "no '='"),
        (" = nothing", "nothing to replace"),
        ("re: = x", "empty pattern"),
        ("re:([a-z = x", "bad regular expression"),
        ("re:a* = x", "empty string"),
        ("re:\\b = x", "empty string"),
        ("re:(?=x) = y", "empty string"),
        ("re:(a)b = \\2", "bad replacement"),
    ],
)
def test_a_bad_rule_is_a_usage_error_naming_file_and_line(tmp_path, line, problem):
    with pytest.raises(UsageError) as caught:
        lexicon(tmp_path, f"# header\nok = fine\n{line}\n")
    error = caught.value
    assert error.exit_code == ExitCode.USAGE
    assert error.message.startswith(f"{tmp_path / 'words.lex'} line 3: ")
    assert problem in error.message


def test_a_missing_or_non_utf8_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="lexicon file not found") as caught:
        Lexicon.load(tmp_path / "absent.lex")
    assert caught.value.exit_code == ExitCode.USAGE
    bad = tmp_path / "latin.lex"
    bad.write_bytes(b"caf\xe9 = coffee\n")
    with pytest.raises(UsageError, match="not valid UTF-8"):
        Lexicon.load(bad)
    with pytest.raises(UsageError, match="is a directory"):
        Lexicon.load(tmp_path)
