"""``--geoip``: events lacking client.geographicalContext located from a MaxMind DB, the same in every
engine, never over what Okta recorded, and not lost to the literal prefilter.

The databases are built here with mmdb-writer (a test dependency) and read back by maxminddb, the
reader the engine uses.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from okta_builders import at
from sql_engines import SQL_ENGINES

from sigma.backends.okta.engine.geoip import Enricher, GeoIpError, Outcome, location_of, open_database
from sigma.backends.okta.engine.prefilter import LineScanner
from sigma.backends.okta.engine.prefilter_clauses import necessary_clauses
from sigma.backends.okta.engine.runner import CompiledRules, Engine, EngineOptions
from sigma.backends.okta.engine.sources import expand_sources
from sigma.backends.okta.targets.sql_execution import run_sources
from sigma.pipelines.okta.loader import bundled_rules_path, load_rules

CHICAGO = {
    "city": {"names": {"en": "Chicago", "de": "Chikago"}},
    "subdivisions": [{"names": {"en": "Illinois"}}, {"names": {"en": "Cook County"}}],
    "country": {"names": {"en": "United States"}},
    "postal": {"code": "60601"},
    "location": {"latitude": 41.88, "longitude": -87.63},
}
DENVER = {"city": {"names": {"en": "Denver"}}, "country": {"names": {"en": "United States"}}}
CHICAGO_IP, DENVER_IP6, UNKNOWN_IP, PRIVATE_IP = "203.0.113.9", "2001:db8::7", "198.51.100.1", "10.1.2.3"
MULTIPLE_CITIES = bundled_rules_path() / "okta_user_logins_from_multiple_cities.yml"

CITY_RULES = """\
title: Sign-in from Chicago
id: 7e1f0c2a-0000-4000-8000-0000000000c1
name: sign_in_from_chicago
logsource: {product: okta, service: okta}
detection:
  selection: {eventType: user.session.start, client.geographicalContext.city: Chicago}
  condition: selection
fields: [client.geographicalContext.city, client.geographicalContext.state]
level: low
"""


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("geoip") / "city.mmdb"
    writer = MMDBWriter(
        ip_version=6,
        database_type="GeoLite2-City",
        languages=["en"],
        description="test",
        ipv4_compatible=True,
    )
    writer.insert_network(IPSet(["203.0.113.0/24"]), CHICAGO)
    writer.insert_network(IPSet(["2001:db8::/32"]), DENVER)
    writer.insert_network(IPSet(["192.0.2.0/24"]), {"traits": {"is_anycast": True}})  # no location
    writer.to_db_file(str(path))
    return path


def sign_in(uuid: str, seconds: int, ip: str | None, context=None, user: str = "ana@example.com") -> dict:
    client: dict = {"geographicalContext": context}
    if ip is not None:
        client["ipAddress"] = ip
    return {
        "uuid": uuid,
        "published": at(seconds),
        "eventType": "user.session.start",
        "actor": {"alternateId": user},
        "client": client,
    }


def write(path: Path, events) -> Path:
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path


# --- the mapping and the per-event step ------------------------------------------------------------


def test_a_city_record_maps_to_oktas_geographical_context():
    location = location_of(CHICAGO)
    assert location.as_context() == {
        "city": "Chicago",
        "state": "Illinois",  # the first subdivision, not the county
        "country": "United States",
        "postalCode": "60601",
        "geolocation": {"lat": 41.88, "lon": -87.63},
    }
    assert location_of(DENVER).as_context()["postalCode"] is None  # what the record lacks is null
    assert location_of({"traits": {"is_anycast": True}}) is None
    assert location_of(None) is None


@pytest.mark.parametrize(
    "context",
    [None, {}, {"city": None, "state": None, "country": None, "geolocation": {"lat": None, "lon": None}}],
    ids=["null", "empty", "all-null"],
)
def test_an_event_without_a_location_is_located_from_its_address(database, context):
    event = sign_in("a", 0, CHICAGO_IP, context)
    assert Enricher(open_database(str(database))).enrich(event) is Outcome.ENRICHED
    assert event["client"]["geographicalContext"]["city"] == "Chicago"
    assert event["client"]["geographicalContext"]["geolocation"] == {"lat": 41.88, "lon": -87.63}


def test_an_event_without_the_context_key_is_located_too(database):
    event = sign_in("a", 0, DENVER_IP6)
    del event["client"]["geographicalContext"]
    assert Enricher(open_database(str(database))).enrich(event) is Outcome.ENRICHED
    assert event["client"]["geographicalContext"]["city"] == "Denver"  # an IPv6 address


def test_what_okta_recorded_is_never_overwritten_nor_completed(database):
    enricher = Enricher(open_database(str(database)))
    partial = {"city": None, "state": None, "country": "Canada", "postalCode": None}
    event = sign_in("a", 0, CHICAGO_IP, dict(partial))
    assert enricher.enrich(event) is Outcome.RECORDED
    assert event["client"]["geographicalContext"] == partial
    only_position = sign_in("b", 0, CHICAGO_IP, {"geolocation": {"lat": 45.5, "lon": None}})
    assert enricher.enrich(only_position) is Outcome.RECORDED
    assert "city" not in only_position["client"]["geographicalContext"]


@pytest.mark.parametrize("ip", [UNKNOWN_IP, PRIVATE_IP, "192.0.2.5", "not an address", None, 17])
def test_an_address_the_database_cannot_locate_leaves_the_event_as_it_was(database, ip):
    event = sign_in("a", 0, None, None)
    event["client"]["ipAddress"] = ip
    before = json.dumps(event)
    assert Enricher(open_database(str(database))).enrich(event) is Outcome.UNRESOLVED
    assert json.dumps(event) == before


def test_flattened_keys_are_read_and_a_client_that_is_not_an_object_is_left_alone(database):
    enricher = Enricher(open_database(str(database)))
    flattened = {"client.ipAddress": CHICAGO_IP, "client.geographicalContext.city": "Boston"}
    assert enricher.enrich(flattened) is Outcome.RECORDED
    address_only = {"client.ipAddress": CHICAGO_IP}
    assert enricher.enrich(address_only) is Outcome.ENRICHED
    assert address_only["client"]["geographicalContext"]["city"] == "Chicago"
    assert enricher.enrich({"client": "web", "client.ipAddress": CHICAGO_IP}) is Outcome.UNRESOLVED


def test_each_address_is_looked_up_once(database):
    geo = open_database(str(database), cache_size=8)
    enricher = Enricher(geo)
    for index in range(50):
        enricher.enrich(sign_in(str(index), index, CHICAGO_IP if index % 2 else DENVER_IP6))
    info = geo.locate.cache_info()
    assert (info.misses, info.hits, info.maxsize) == (2, 48, 8)


# --- the engines ---------------------------------------------------------------------------------


def test_logins_from_multiple_cities_fire_only_with_enrichment(tmp_path, database):
    events = write(
        tmp_path / "events.ndjson",
        [sign_in("1", 60, CHICAGO_IP), sign_in("2", 900, DENVER_IP6), sign_in("3", 1000, PRIVATE_IP)],
    )
    pack = load_rules([MULTIPLE_CITIES])
    sources = expand_sources([str(events)])

    def alerts(geoip):
        found: list = []
        result = Engine(pack, EngineOptions(workers=1, geoip=geoip)).run(sources, found.append)
        return [alert.to_dict() for alert in found], result.report

    without, report = alerts(None)
    assert without == [] and report.locations_enriched == report.locations_unresolved == 0
    with_geoip, report = alerts(open_database(str(database)))
    assert [(alert["group"], alert["metrics"]) for alert in with_geoip] == [
        ({"actor.alternateId": "ana@example.com"}, {"value_count": 2})
    ]
    assert (report.locations_enriched, report.locations_unresolved) == (2, 1)


def test_with_geoip_the_prefilter_keeps_lines_whose_city_only_enrichment_supplies(tmp_path, database):
    rules = tmp_path / "chicago.yml"
    rules.write_text(CITY_RULES)
    pack = load_rules([rules])
    (rule,) = pack.base_rules
    line = orjson.dumps(sign_in("1", 60, CHICAGO_IP))
    assert b"Chicago" not in line
    # the trap: the rule's own literals would skip the line before enrichment could give it a city
    assert not LineScanner(necessary_clauses(rule)).candidate_lines(line + b"\n")
    geoip = open_database(str(database))
    compiled = CompiledRules(pack, EngineOptions(geoip=geoip))
    assert compiled.scanner is not None  # eventType still prefilters
    assert compiled.scanner.candidate_lines(line + b"\n")
    assert not compiled.scanner.candidate_lines(
        line.replace(b"user.session.start", b"user.session.end") + b"\n"
    )

    events = write(tmp_path / "events.ndjson", [sign_in("1", 60, CHICAGO_IP), sign_in("2", 90, DENVER_IP6)])
    for prefilter in (True, False):
        found: list = []
        options = EngineOptions(workers=1, geoip=geoip, prefilter=prefilter)
        Engine(pack, options).run(expand_sources([str(events)]), found.append)
        assert [(alert.event_id, alert.fields) for alert in found] == [
            (
                "1",
                {
                    "client.geographicalContext.city": "Chicago",
                    "client.geographicalContext.state": "Illinois",
                },
            )
        ]
        assert found[0].event["client"]["geographicalContext"]["postalCode"] == "60601"


def test_a_pack_that_reads_no_location_is_not_enriched(tmp_path, database):
    pack = load_rules([bundled_rules_path() / "okta_new_api_token_created.yml"])
    compiled = CompiledRules(pack, EngineOptions(geoip=open_database(str(database))))
    assert compiled.enricher is None


def mixed_events(path: Path) -> Path:
    """Sign-ins: located by Okta, by the database (IPv4, IPv6), not at all; and noise no rule matches."""
    events = []
    for user, offset in (("ana@example.com", 0), ("bo@example.com", 1), ("cy@example.com", 2)):
        events += [
            sign_in(f"{user}-1", 60 + offset, CHICAGO_IP, user=user),
            sign_in(
                f"{user}-2", 600 + offset, DENVER_IP6 if user != "bo@example.com" else CHICAGO_IP, user=user
            ),
            sign_in(f"{user}-3", 1200 + offset, PRIVATE_IP, user=user),
            # Okta's own location, in the next hour's window
            sign_in(
                f"{user}-4", 3700 + offset, UNKNOWN_IP, {"city": "Lisbon", "country": "Portugal"}, user=user
            ),
        ]
    noise = sign_in("noise", 30, CHICAGO_IP)
    noise["eventType"] = "user.session.end"
    return write(path, [*events, noise] * 3)


def comparable(alerts) -> list[dict]:
    """As in test_engines_read_the_same_input: a match alert's event reduced to its fields' names."""
    result = []
    for alert in alerts:
        data = alert.to_dict()
        if "event" in data:
            data["event"] = sorted(data["fields"])
        result.append(data)
    return sorted(result, key=lambda data: json.dumps(data, sort_keys=True))


@pytest.fixture(scope="module")
def geo_pack(tmp_path_factory):
    rules = tmp_path_factory.mktemp("rules") / "chicago.yml"
    rules.write_text(CITY_RULES)
    return load_rules([MULTIPLE_CITIES, rules])


def python_alerts(pack, events: Path, options: EngineOptions):
    found: list = []
    result = Engine(pack, options).run(expand_sources([str(events)]), found.append)
    return comparable(found), (result.report.locations_enriched, result.report.locations_unresolved)


def test_parallel_workers_give_the_alerts_and_counts_of_one_reader(tmp_path, database, geo_pack):
    events = mixed_events(tmp_path / "events.ndjson")
    geoip = open_database(str(database))
    one = python_alerts(geo_pack, events, EngineOptions(workers=1, geoip=geoip))
    several = python_alerts(
        geo_pack, events, EngineOptions(workers=2, geoip=geoip, parallel_min_bytes=1, chunk_size=512)
    )
    assert one == several
    assert one[1] == (18, 9)  # see the SQL test's comment for the counts


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_the_sql_engines_give_the_python_engines_alerts_with_geoip(tmp_path, database, geo_pack, engine):
    events = mixed_events(tmp_path / "events.ndjson")
    options = EngineOptions(workers=1, geoip=open_database(str(database)), every_group=True)
    expected = python_alerts(geo_pack, events, options)
    alerts, counts = expected
    # ana and cy sign in from Chicago and Denver (located), bo twice from Chicago; Lisbon is Okta's own
    fired = [alert["group"] for alert in alerts if "window" in alert and alert.get("condition", True)]
    fired.sort(key=lambda group: group["actor.alternateId"])  # `comparable` orders by the alerts' ids
    assert fired == [{"actor.alternateId": "ana@example.com"}, {"actor.alternateId": "cy@example.com"}]
    assert sum("event" in alert for alert in alerts) == 3 * 4  # Chicago matches: 4 per copy of the input
    # 12 sign-ins per copy, 3 copies: 6 located by the database, 3 private (unresolved), 3 Okta's own
    assert counts == (18, 9)
    found: list = []
    report, _ = run_sources(engine, geo_pack, expand_sources([str(events)]), options, found.append)
    assert (comparable(found), (report.locations_enriched, report.locations_unresolved)) == expected


# --- the command line ----------------------------------------------------------------------------


def sigma_okta(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sigma.backends.okta.cli", *arguments], capture_output=True, text=True
    )


def test_run_with_geoip_prints_the_alert_and_the_counts(tmp_path, database):
    events = write(tmp_path / "events.ndjson", [sign_in("1", 60, CHICAGO_IP), sign_in("2", 900, DENVER_IP6)])
    done = sigma_okta("run", str(MULTIPLE_CITIES), "--events", str(events), "--geoip", str(database))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metrics"] == {"value_count": 2}
    assert (
        "geoip: GeoLite2-City of " in done.stderr
        and ": 2 matched events located, 0 not located" in done.stderr
    )


def test_a_run_without_geoip_does_not_import_maxminddb(tmp_path):
    events = write(tmp_path / "events.ndjson", [sign_in("1", 60, CHICAGO_IP)])
    code = (
        "import sys\nfrom sigma.backends.okta.cli import main\n"
        f"code = main(['run', {str(MULTIPLE_CITIES)!r}, '--events', {str(events)!r}, '-q'])\n"
        "assert code == 0 and 'maxminddb' not in sys.modules, sorted(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"not a database" * 20, "not a MaxMind DB file (.mmdb)"),
        ("damaged", "the database is corrupt"),
        ("folder", "a folder, not a MaxMind DB file"),
    ],
    ids=["missing", "garbage", "damaged", "folder"],
)
def test_a_database_that_cannot_be_used_is_a_clear_error(tmp_path, database, content, message):
    path = tmp_path / "city.mmdb"
    if content == "damaged":  # the metadata is intact, the search tree is not
        data = bytearray(database.read_bytes())
        data[:64] = b"\xff" * 64
        path.write_bytes(bytes(data))
    elif content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(GeoIpError, match=re.escape(message)):
        open_database(str(path))
    events = write(tmp_path / "events.ndjson", [sign_in("1", 60, CHICAGO_IP)])
    done = sigma_okta("run", str(MULTIPLE_CITIES), "--events", str(events), "--geoip", str(path))
    assert done.returncode == 4
    assert done.stderr.startswith(f"sigma-okta: --geoip {path}: ") and message in done.stderr
    assert "Traceback" not in done.stderr


def test_geoip_is_refused_with_a_pipeline(tmp_path, database):
    events = write(tmp_path / "events.ndjson", [sign_in("1", 60, CHICAGO_IP)])
    done = sigma_okta(
        "run", str(MULTIPLE_CITIES), "--events", str(events), "--geoip", str(database), "-p", "okta_elastic"
    )
    assert done.returncode == 2 and "cannot be used with --pipeline" in done.stderr


LOCATED_TESTS = """\
rules: okta_user_logins_from_multiple_cities
templates:
  # no location of Okta's own: --geoip gives it one from the address
  sign_in: {eventType: user.session.start, client: {geographicalContext: null}}
tests:
  - name: sign-ins located in two cities fire
    events:
      - {like: sign_in, at: 60s, actor: {alternateId: ana@example.com}, client: {ipAddress: 203.0.113.9}}
      - {like: sign_in, at: 900s, actor: {alternateId: ana@example.com}, client: {ipAddress: "2001:db8::7"}}
    expect:
      - group: {actor.alternateId: ana@example.com}
        metrics: {value_count: 2}
"""


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_detection_tests_run_with_geoip(tmp_path, database, engine):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / MULTIPLE_CITIES.name).write_text(MULTIPLE_CITIES.read_text())
    (folder / "located.tests.yaml").write_text(LOCATED_TESTS)
    located = sigma_okta(
        "test", str(folder), "--engine", engine, "--geoip", str(database), "--color", "never"
    )
    assert located.returncode == 0, located.stdout + located.stderr
    unlocated = sigma_okta("test", str(folder), "--engine", engine, "--color", "never")
    assert unlocated.returncode == 6, unlocated.stdout + unlocated.stderr
