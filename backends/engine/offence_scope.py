"""Which bad input a run reports, so that the counts do not depend on the path a line takes.

Without ``--strict`` the engine checks only what can change an alert, and reports an offence found on
a line when both hold:

- the line is a prefilter *candidate* (:mod:`.prefilter`: it can satisfy a rule's literal clauses, or
  does not look like one JSON object). Sparse chunks decode only candidates; dense chunks, whose every
  line is decoded because scanning would cost more than it saves, and ``--no-prefilter`` runs ask this
  of each offending line, so the lines the prefilter rules out count in no mode;
- for the faults of decoding (:data:`DECODING_REASONS`), the rules' *view* of the line is affected: the
  projection's typed decode (:mod:`.projection`, msgspec) refuses the line. A line that it takes has its
  faults only in values no rule reads (invalid UTF-8 in a skipped string, ``1e999`` in a skipped
  number), which msgspec does not look at; runs without projection ask the same decoder, so they count
  the same lines.

With ``--strict`` every line is decoded in full and every offence is reported. JSON documents (arrays,
pretty-printed objects) are always decoded and checked in full, element by element.

Both questions are asked only of lines that already have an offence: nothing here runs per good line.
"""

from __future__ import annotations

from .input_report import Reason
from .prefilter import LineScanner
from .prefilter_clauses import Clause
from .projection import EventProjection

#: the reasons :func:`~.decoding.decode_line` gives: what the typed decode would have noticed or not
DECODING_REASONS = frozenset(
    {
        Reason.MALFORMED_JSON,
        Reason.NOT_AN_OBJECT,
        Reason.INVALID_UTF8,
        Reason.BOM,
        Reason.NON_FINITE_NUMBER,
        Reason.TOO_DEEP,
    }
)


class OffenceScope:
    """Decides whether an offence found on a line is reported (see the module's docstring).

    ``clauses``: the union of the rules' prefilter clauses, None when a rule can match without a literal
    (then every line is a candidate). ``view``: the typed decode of the fields the rules read, None when
    the rules need whole events (keyword detections). ``strict``: report everything.
    """

    def __init__(self, clauses: frozenset[Clause] | None, view: EventProjection | None, strict: bool):
        self.clauses = clauses
        self.view = view
        self.strict = strict
        self._judge: LineScanner | None = None  # built on the first offence that needs it

    def reports(self, line: bytes, reason: Reason, *, candidate: bool, view_refused: bool) -> bool:
        """Whether to count ``reason`` found on ``line``: ``candidate`` when the line is known to be a
        prefilter candidate, ``view_refused`` when the typed decode is known to have refused it."""
        if self.strict:
            return True
        judged_by_view = reason in DECODING_REASONS and not view_refused and self.view is not None
        if judged_by_view and self.view.accepts(line):
            return False
        return candidate or self.is_candidate(line)

    def is_candidate(self, line: bytes) -> bool:
        """The prefilter's verdict on one line (without its newline), by the same definition as a
        chunk's scan: a single pure-Python scanner, since it sees only offending lines."""
        if self.clauses is None:
            return True
        if self._judge is None:
            self._judge = LineScanner(self.clauses, use_hyperscan=False, warmup_bytes=0)
        return bool(self._judge.candidate_lines(line))


__all__ = ["DECODING_REASONS", "OffenceScope"]
