"""Keys that match a field the rules read only when case is ignored: ``eventtype`` where a rule reads
``eventType``, as some exports write them. Sigma field names are case-sensitive, so such events never
match, and a run over them says nothing unless asked: this looks at the first events of a run's files
and names the keys, so the user can fix the export or map the fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from .decoding import decode_line
from .documents import iter_document_events
from .input_report import InputReport
from .sources import READ_ERRORS, Source, is_document, iter_chunks

SAMPLE_EVENTS = 1000
SAMPLE_BYTES = 16 << 20  # however few events they hold, no more is read
_SAMPLE_CHUNK_BYTES = 1 << 20


def keys_differing_in_case(
    sources: Sequence[Source], fields: Iterable[str], sample: int = SAMPLE_EVENTS
) -> dict[str, str]:
    """``{key as the events spell it: field as the rules spell it}`` for fields that the first ``sample``
    events of the (re-readable) sources never hold as spelled but do hold with other case."""
    wanted = [(name, name.split(".")) for name in sorted(fields)]
    exact: set[str] = set()
    other_case: dict[str, str] = {}
    for event in islice(_first_events(sources), sample):
        for name, path in wanted:
            if name in exact:
                continue
            spelled = _spelling_in(event, path)
            if spelled == name:
                exact.add(name)
            elif spelled is not None:
                other_case.setdefault(name, spelled)
    return {spelled: name for name, spelled in other_case.items() if name not in exact}


def _spelling_in(event: Any, path: list[str]) -> str | None:
    """The path as ``event`` spells it (its own keys, matched ignoring case where not exact), or None."""
    if type(event) is dict and ".".join(path) in event:
        return ".".join(path)  # a flat dotted key, as some exports write them
    spelled = []
    node = event
    for part in path:
        if type(node) is not dict:
            return None
        if part in node:
            key = part
        else:
            lowered = part.lower()
            key = next((k for k in node if type(k) is str and k.lower() == lowered), None)
            if key is None:
                return None
        spelled.append(key)
        node = node[key]
    return ".".join(spelled)


def _first_events(sources: Sequence[Source]) -> Iterator[dict]:
    report = InputReport(sources)  # a second, partial look: its offences are the run's, already counted
    budget = SAMPLE_BYTES
    for source in sources:
        if source.is_stdin:
            continue  # read once, by the run
        try:
            if is_document(source, report):
                yield from (event for _, event in iter_document_events(source, report))
                continue
            for chunk in iter_chunks(source, report, chunk_size=_SAMPLE_CHUNK_BYTES):
                budget -= len(chunk.data)
                if budget < 0:
                    return
                for line in chunk.data.splitlines():
                    event, _ = decode_line(line)
                    if event is not None:
                        yield event
        except READ_ERRORS:
            continue


__all__ = ["SAMPLE_EVENTS", "keys_differing_in_case"]
