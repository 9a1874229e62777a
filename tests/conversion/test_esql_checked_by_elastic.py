"""Every generated ES|QL query, checked by tools nobody on this team wrote.

- Elastic's ES|QL grammar (``esql-parser``, the ANTLR grammar of the Elasticsearch repository) parses
  every query of the corpus with no syntax error;
- every ``RLIKE`` pattern is compiled by Lucene's own ``RegExp`` (lucene-core, which ES|QL's RLIKE
  compiles patterns with), run on the JVM by ``tests/tools/LuceneRegexpCheck.java``. The jar comes
  from Debian's liblucene8-java (``make tools``); Lucene 9, which current Elasticsearch ships, is
  stricter in one documented way that Lucene 8 is not: a backslash before a letter other than
  d, D, s, S, w or W is rejected ("invalid character class"), where Lucene 8 read ``\\t`` as the letter
  t. That rule is checked here beside the jar.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from target_queries import generated_queries, sources

from sigma.backends.okta.targets.esql import NUMERIC_TEXT_REGEX, string_literal
from sigma.pipelines.okta.semantics import as_number

antlr4 = pytest.importorskip("antlr4", reason="antlr4 runtime missing (it comes with esql-parser)")
esql_lexer = pytest.importorskip("esql_parser.EsqlBaseLexer", reason="esql-parser is not installed")
esql_parser = pytest.importorskip("esql_parser.EsqlBaseParser", reason="esql-parser is not installed")

ROOT = Path(__file__).resolve().parents[2]
LUCENE_JAR = ROOT / ".venv" / "java-tools" / "lucene-core.jar"
CHECKER = ROOT / "tests" / "tools" / "LuceneRegexpCheck.java"
PIPELINES = ["okta_elastic", "okta_ocsf"]


class _Errors(antlr4.error.ErrorListener.ErrorListener):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def syntaxError(self, recognizer, offending, line, column, message, error):
        self.messages.append(f"{line}:{column}: {message}")


def parse(query: str):
    """The parse tree and the syntax errors of one query, by Elastic's grammar."""
    errors = _Errors()
    lexer = esql_lexer.EsqlBaseLexer(antlr4.InputStream(query))
    lexer.removeErrorListeners()
    lexer.addErrorListener(errors)
    parser = esql_parser.EsqlBaseParser(antlr4.CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(errors)
    return parser.singleStatement(), errors.messages


def unquote(literal: str) -> str:
    """An ES|QL string literal's value, as Elasticsearch's parser reads it (ParserUtils.unquoteString):
    triple-quoted strings are raw; in double-quoted ones \\t \\n \\r \\" \\\\ are the only escapes."""
    if literal.startswith('"""'):
        return literal[3:-3]
    escapes = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda match: escapes[match.group(1)], literal[1:-1], flags=re.DOTALL)


def rlike_patterns(tree) -> list[str]:
    patterns: list[str] = []

    def walk(node) -> None:
        if isinstance(node, esql_parser.EsqlBaseParser.RlikeExpressionContext):
            patterns.append(unquote(node.string().getText()))
        for child in getattr(node, "children", None) or ():
            walk(child)

    walk(tree)
    return patterns


def lucene_run(pattern_probes: list[tuple[str, list[str]]]) -> list[str | list[bool]]:
    """Lucene's verdict on each pattern: its error message, or whether each probe text matches it
    whole (as RLIKE matches)."""
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: the Lucene RegExp check needs one")
    if not LUCENE_JAR.exists():
        pytest.skip(f"{LUCENE_JAR} missing: `make tools` fetches lucene-core (needs apt-get)")
    stdin = "\x1e".join("\0".join([pattern, *probes]) for pattern, probes in pattern_probes)
    result = subprocess.run(
        ["java", "-cp", str(LUCENE_JAR), str(CHECKER)],
        input=stdin.encode(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    lines = result.stdout.decode().splitlines()
    assert len(lines) == len(pattern_probes), result.stderr.decode()
    verdicts: list[str | list[bool]] = []
    for (pattern, _), line in zip(pattern_probes, lines, strict=True):
        problem = _lucene9_escape_problem(pattern)
        if problem or line.startswith("error"):
            verdicts.append(problem or line)
        else:
            verdicts.append([bit == "1" for bit in line[3:]])
    return verdicts


def lucene_check(patterns: list[str]) -> list[str]:
    """ "ok" or the error of each pattern."""
    return [v if isinstance(v, str) else "ok" for v in lucene_run([(pattern, []) for pattern in patterns])]


def _lucene9_escape_problem(pattern: str) -> str | None:
    for match in re.finditer(r"\\(.)", pattern, flags=re.DOTALL):
        if match.group(1).isascii() and match.group(1).isalpha() and match.group(1) not in "dDsSwW":
            return f"error: invalid character class \\{match.group(1)} (Lucene 9)"
    return None


def test_the_parser_rejects_what_elasticsearch_rejects():
    # the check can fail: a `--` comment (not ES|QL) and an unclosed string are syntax errors
    assert parse("FROM logs | WHERE a == 1")[1] == []
    assert parse("-- title\nFROM logs | WHERE a == 1")[1]
    assert parse('FROM logs | WHERE a == "open')[1]


def test_the_lucene_check_rejects_what_lucene_rejects():
    verdicts = lucene_check(["[ \t]*[0-9]+", "[+-]?x", "[ \\t]*", "[\\-+]?", "a{2,3}"])
    assert verdicts[0] == "ok"
    assert verdicts[1].startswith("error: expected ']'")  # "+-]" is read as a range
    assert verdicts[2] == "error: invalid character class \\t (Lucene 9)"
    assert verdicts[3:] == ["ok", "ok"]
    # and Lucene's matching is what the numeric test below compares with: "[+-]?[0-9]" parses, as a
    # class holding the range '+'..']' (all of 0-9, A-Z ...), '?', '[' and 0-9, so "A5" matches it
    assert lucene_run([("[+-]?[0-9]+", ["-5", "A5", "x5"])]) == [[True, True, False]]


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_generated_query_parses(pipeline):
    queries, _ = generated_queries("esql", pipeline)
    # every part of the corpus is there (SigmaHQ's rules only with ../shared), none shrank to nothing
    assert {query.source for query in queries} == set(sources()) and len(queries) > 25
    failures = {f"{query.source}/{query.rule}": parse(query.text)[1] for query in queries}
    assert {rule: errors for rule, errors in failures.items() if errors} == {}


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_rlike_pattern_is_a_lucene_regular_expression(pipeline):
    queries, _ = generated_queries("esql", pipeline)
    found = [(query, pattern) for query in queries for pattern in rlike_patterns(parse(query.text)[0])]
    patterns = [pattern for _, pattern in found]
    # the numeric-text pattern is part of the check whether or not the corpus happens to use it
    patterns.append(unquote(string_literal(NUMERIC_TEXT_REGEX)))
    verdicts = lucene_check(patterns)
    rejected = {
        pattern: verdict for pattern, verdict in zip(patterns, verdicts, strict=True) if verdict != "ok"
    }
    assert rejected == {}


NUMERIC_PROBES = [
    "0",
    "5",
    "-5",
    "+5",
    "12.5",
    "-.5",
    ".5",
    "5.",
    "1e3",
    "1E+3",
    "-2.5e-3",
    " 7 ",
    "\t7\n",
    "\r\n8\r",
    "",
    " ",
    "-",
    "+",
    ".",
    "e3",
    "1e",
    "1e+",
    "--5",
    "+-5",
    "5-",
    "1.2.3",
    "0x10",
    "NaN",
    "Infinity",
    "inf",
    "1_000",
    "1,5",
    "\f5",
    "5\v",
    "\u00a05",
    "\u0663",
    "５",
    "?",
    "[",
    "]",
    "5]",
    "a5",
]


def test_numeric_text_pattern_matches_what_the_engine_reads_as_a_number():
    # Lucene runs the pattern the ES|QL target emits; the engine's semantics is the reference
    pattern = unquote(string_literal(NUMERIC_TEXT_REGEX))
    (matches,) = lucene_run([(pattern, NUMERIC_PROBES)])
    assert not isinstance(matches, str), matches
    # text beyond the double range ("1e999") has the syntax and is refused by number_of_text's range test
    expected = [as_number(probe) is not None or probe in ("1e999", "-1E400") for probe in NUMERIC_PROBES]
    assert dict(zip(NUMERIC_PROBES, matches, strict=True)) == dict(zip(NUMERIC_PROBES, expected, strict=True))


def test_plain_convert_output_is_pasteable_es_ql(capsys):
    # `convert -t esql` titles each query with a comment line; ES|QL's comments are `//`, not `--`
    from sigma.backends.okta.cli import main

    # every rule of the pack converts (members of the target list through FIELD_EXTRACT, docs/rule-pack.md)
    assert main(["convert", "-t", "esql", str(ROOT / "rules")]) == 0
    chunks = capsys.readouterr().out.strip().split("\n\n")
    assert chunks and all(chunk.startswith("// ") for chunk in chunks)
    assert {chunk.splitlines()[0]: parse(chunk)[1] for chunk in chunks if parse(chunk)[1]} == {}
