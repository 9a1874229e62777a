"""Synthetic Okta System Log data with exact ground truth for every rule of the bundled pack.

The generator writes realistic ``LogEvent`` NDJSON and a ground-truth JSON. For the push-mismatch rule
(:data:`RULE_ID`) it says which ``(window, session)`` pairs must alert, with their metrics; under
``rules`` it lists, for every rule of the pack by id, the alerts the pack must give: window and group
values for a correlation, event time and risk object for a single-event rule (what ``sigma-okta run
--truth`` compares, rule by rule). No third-party data is copied: every value is produced here from
small hand-written tables.

Public API
----------
- :class:`GeneratorConfig`: what to generate (seed, time range, scenario counts, size, mix, escaping).
- :func:`iter_events`: a deterministic stream of event dicts, in ``published`` order (unless ``shuffle``).
- :class:`EventStream`: the same stream, plus serialised lines and the ground truth once exhausted.
- :func:`generate_events`: the events of a run in memory, with the ground truth (small test datasets).
- :func:`write_dataset`: NDJSON (``.gz`` by suffix) + ground-truth JSON, returns a :class:`DatasetSummary`.

How the data is made
--------------------
Time is cut into epoch-aligned UTC hours (the rule's tumbling windows). Each hour gets a plan: labelled
scenario sessions (see :data:`SCENARIOS`) and a budget of background events. A session is a list of light
``_Step`` records (offset, event kind, client, ...); event dicts are only built when a step is emitted,
and a heap merges the active sessions into time order, so memory is O(active sessions), not O(events).
Every scenario session lies inside one hour window; its start is on an even second, so the 2-second
collapse buckets of its steps are known from the design.

Events share read-only sub-objects (``actor``, ``client``, ``securityContext``, ``request``, ``target``,
...) to keep generation fast: treat yielded events as immutable (copy before mutating).

Ground truth is derived from the scenario design (how many pushes, fan-out, answers, IPs and behaviors a
session was built with), not by evaluating events. Every push/response event of the output belongs to a
labelled scenario session, so the truth lists every rule group. For the rest of the pack, each step
carries the rule inputs it was built as (``pack.step_feeds``: a lockout from this address, a sign-in of
this user from this city, ...), background steps included; ``pack_truth`` counts them per tumbling,
epoch-aligned window and group and applies each rule's threshold. Scenarios of those rules
(``pack_scenarios``) come with near misses (just under a threshold, or split by a 5-minute or hour
boundary) built on users and addresses nothing else touches, and say with ``Intent``s what each must
do; the truth records whether each intent held.

Modules
-------
Each module imports only from modules above it in this list (no cycles).

- ``rule``: the detection's id and name, its two event types, window and bucket, ``LOGEVENT_KEYS``.
- ``pack``: the pack's rules as the generator models them, ``Feed`` and ``step_feeds``.
- ``tables``: hand-written reference tables (cities, ISPs, user agents, phones, names, apps, hours).
- ``values``: small value builders (ids, session ids, IPs, behaviors, logins, timestamps, rounding).
- ``config``: :class:`GeneratorConfig` and the size and duration parsers.
- ``population``: clients, Okta Verify phones, users and the seeded population of the org.
- ``events``: event kinds, outcomes, ``_Step``, signals, and step -> event dict -> NDJSON line.
- ``context``: ``_ScenarioContext``, the randomness, people and clients that builders draw from.
- ``session``: ``_Session``, the step builders of one session (sign-in, push, answer, app access).
- ``pack_truth``: ``Intent`` and ``PackTruth`` (feeds per window and group, the pack's expected alerts).
- ``truth``: ``_Facts``, the push rule's metrics and alert condition, :class:`GroundTruth`.
- ``design``: ``Scenario`` and ``_Design``.
- ``pack_scenarios``: the scenarios of the rest of the pack.
- ``scenarios``: :data:`SCENARIOS` and their builders; a new labelled scenario goes here.
- ``background``: the background flows (everything else an Okta org logs).
- ``planning``: ``_Planner``, which sessions start in which hour, and its calibration.
- ``stream``: :class:`EventStream` (heap merge, serialisation, shuffle, truth) and :func:`iter_events`.
- ``writing``: :func:`write_dataset` and :class:`DatasetSummary`.
"""

from __future__ import annotations

from .config import GeneratorConfig, parse_duration, parse_size
from .rule import LOGEVENT_KEYS, PUSH_EVENT_TYPE, RESPONSE_EVENT_TYPE, RESPONSE_FACTOR, RULE_ID
from .scenarios import ATTACK_LABELS, BENIGN_LABELS, LABELS, SCENARIOS
from .stream import EventStream, generate_events, iter_events
from .truth import GroundTruth
from .writing import DatasetSummary, write_dataset

__all__ = [
    "ATTACK_LABELS",
    "BENIGN_LABELS",
    "LABELS",
    "LOGEVENT_KEYS",
    "PUSH_EVENT_TYPE",
    "RESPONSE_EVENT_TYPE",
    "RESPONSE_FACTOR",
    "RULE_ID",
    "SCENARIOS",
    "DatasetSummary",
    "EventStream",
    "GeneratorConfig",
    "GroundTruth",
    "generate_events",
    "iter_events",
    "parse_duration",
    "parse_size",
    "write_dataset",
]
