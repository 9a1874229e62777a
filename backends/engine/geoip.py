"""Optional enrichment of events from a MaxMind-format database (``run --geoip GeoLite2-City.mmdb``).

Okta locates the client of most events itself (``client.geographicalContext``: city, state, country,
postalCode, geolocation). Some exports and some events lack it; with a database the engine fills it in,
from ``client.ipAddress``, so that rules reading the location (logins from several cities) still work.

What an event gets (the semantics every engine shares, docs/semantics.md):

- only an event whose ``client.geographicalContext`` has no location at all is enriched: the object is
  absent or null, or every one of its six values (:data:`LOCATION_FIELDS`) is absent or null. What Okta
  recorded is never overwritten, and a partial record is not completed either: mixing two geolocations
  in one record could pair Okta's country with another database's city;
- the address is ``client.ipAddress`` (IPv4 or IPv6, as text); an event without one, or whose address is
  not an address, or is not in the database (private ranges are not in MaxMind's), or whose record
  holds no location, is left as it is and counted as unresolved;
- the record maps to Okta's shape: ``city.names.en`` -> city, ``subdivisions[0].names.en`` -> state,
  ``country.names.en`` -> country, ``postal.code`` -> postalCode, ``location.latitude``/``longitude``
  -> ``geolocation.lat``/``lon``; a part the record lacks is null, as in Okta's own events.

``maxminddb`` is imported only by :func:`open_database`: a run without ``--geoip`` never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

from .fields import MISSING, compile_field

CONTEXT = "client.geographicalContext"
ADDRESS_FIELD = "client.ipAddress"
LOCATION_FIELDS = tuple(
    f"{CONTEXT}.{name}"
    for name in ("city", "state", "country", "postalCode", "geolocation.lat", "geolocation.lon")
)
# Fields the enrichment must see to decide and to write (added to the projection when it is on).
FIELDS_READ = (ADDRESS_FIELD, *LOCATION_FIELDS)
CACHE_SIZE = 1 << 16  # distinct addresses remembered; a day of a large tenant's log has fewer clients


class GeoIpError(Exception):
    """The database cannot be used: missing, unreadable, not a MaxMind DB, or ``maxminddb`` absent."""


def reads_location(field: str | None) -> bool:
    """Whether a rule's field can take a value that only enrichment supplies. None is a keyword
    (field-less) detection, which searches every value of the event, the supplied ones too."""
    return field is None or field == CONTEXT or field.startswith(CONTEXT + ".")


@dataclass(frozen=True)
class Location:
    """What a database record gives, in Okta's terms."""

    city: str | None
    state: str | None
    country: str | None
    postal_code: str | None
    lat: float | None
    lon: float | None

    def as_context(self) -> dict[str, Any]:
        return {
            "city": self.city,
            "state": self.state,
            "country": self.country,
            "postalCode": self.postal_code,
            "geolocation": {"lat": self.lat, "lon": self.lon},
        }


class Outcome(Enum):
    RECORDED = "recorded"  # the event has a location of its own: left alone, not counted
    ENRICHED = "enriched"
    UNRESOLVED = "unresolved"


class GeoDatabase:
    """An open MaxMind DB with a bounded cache of locations per address (one per process: forked
    workers each fill their own)."""

    def __init__(self, reader: Any, path: str, cache_size: int = CACHE_SIZE):
        self.path = path
        self._reader = reader
        metadata = reader.metadata()
        self.database_type: str = metadata.database_type
        self.build_epoch: int = metadata.build_epoch
        self.locate = lru_cache(maxsize=cache_size)(self._locate)

    def describe(self) -> str:
        import datetime as dt

        built = dt.datetime.fromtimestamp(self.build_epoch, dt.UTC).strftime("%Y-%m-%d")
        return f"{self.database_type} of {built} ({self.path})"

    def summary(self, report: Any) -> str:
        """The run summary's line: how many matched events were located (an :class:`InputReport`)."""
        return (
            f"geoip: {self.describe()}: {report.locations_enriched:,} matched events located, "
            f"{report.locations_unresolved:,} not located (no address, or none the database knows)"
        )

    def _locate(self, address: str) -> Location | None:
        try:
            record = self._reader.get(address)
        except ValueError:  # not an IPv4 or IPv6 address (or IPv6 in an IPv4-only database)
            return None
        except Exception as error:  # maxminddb's InvalidDatabaseError: a corrupt search tree or data
            raise GeoIpError(f"--geoip {self.path}: the database is corrupt ({error})") from error
        return location_of(record)


def location_of(record: Any) -> Location | None:
    """A MaxMind City record in Okta's terms; None when it holds no location at all."""
    if not isinstance(record, dict):
        return None
    subdivisions = record.get("subdivisions")
    position = record.get("location") if isinstance(record.get("location"), dict) else {}
    location = Location(
        city=_english_name(record.get("city")),
        state=_english_name(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else None,
        country=_english_name(record.get("country")),
        postal_code=_text(
            record.get("postal", {}).get("code") if isinstance(record.get("postal"), dict) else None
        ),
        lat=_number(position.get("latitude")),
        lon=_number(position.get("longitude")),
    )
    return None if location == _NOWHERE else location


def _english_name(part: Any) -> str | None:
    names = part.get("names") if isinstance(part, dict) else None
    return _text(names.get("en")) if isinstance(names, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_NOWHERE = Location(None, None, None, None, None, None)


def open_database(path: str, cache_size: int = CACHE_SIZE) -> GeoDatabase:
    """Open ``path``; :class:`GeoIpError` with a message for the user when it cannot be used."""
    try:
        import maxminddb
    except ImportError as error:
        raise GeoIpError("--geoip needs the maxminddb package: pip install 'sigma-okta[geoip]'") from error
    if os.path.isdir(path):
        raise GeoIpError(f"--geoip {path}: a folder, not a MaxMind DB file (.mmdb)")
    try:
        reader = maxminddb.open_database(path)
    except FileNotFoundError as error:
        raise GeoIpError(f"--geoip {path}: no such file") from error
    except OSError as error:
        raise GeoIpError(f"--geoip {path}: cannot read it: {error.strerror or error}") from error
    except (maxminddb.InvalidDatabaseError, ValueError, TypeError) as error:
        raise GeoIpError(f"--geoip {path}: not a MaxMind DB file (.mmdb): {error}") from error
    database = GeoDatabase(reader, path, cache_size)
    # A damaged search tree often opens fine and fails on the first lookups: fail here, not mid-run.
    for probe in ("1.1.1.1", "8.8.8.8", "2001:4860:4860::8888"):
        database.locate(probe)
    database.locate.cache_clear()
    return database


class Enricher:
    """The per-event step: getters compiled once; per event a few dict lookups, and a cached lookup
    for events that have no location."""

    def __init__(self, database: GeoDatabase):
        self.database = database
        self._address = compile_field(ADDRESS_FIELD)
        self._recorded = [compile_field(name) for name in LOCATION_FIELDS]

    def enrich(self, event: dict) -> Outcome:
        for get in self._recorded:
            value = get(event)
            if value is not MISSING and value is not None:
                return Outcome.RECORDED
        client = event.get("client", MISSING)
        if client is MISSING or client is None:
            client = None
        elif type(client) is not dict:
            return Outcome.UNRESOLVED  # a client that is not an object has nowhere to hold a location
        elif client.get(CONTEXT_KEY) not in (None, MISSING) and type(client[CONTEXT_KEY]) is not dict:
            return Outcome.UNRESOLVED  # a geographicalContext that is text or a list: not ours to replace
        address = self._address(event)
        if type(address) is not str:
            return Outcome.UNRESOLVED
        location = self.database.locate(address)
        if location is None:
            return Outcome.UNRESOLVED
        if client is None:
            client = event["client"] = {}
        context = client.get(CONTEXT_KEY)
        if type(context) is dict:
            context.update(location.as_context())  # keeps keys of its own that are not a location
        else:
            client[CONTEXT_KEY] = location.as_context()
        return Outcome.ENRICHED


CONTEXT_KEY = "geographicalContext"


def needs_location(fields: Iterable[str]) -> bool:
    return any(name is not None and reads_location(name) for name in fields)


__all__ = [
    "FIELDS_READ",
    "LOCATION_FIELDS",
    "Enricher",
    "GeoDatabase",
    "GeoIpError",
    "Location",
    "Outcome",
    "location_of",
    "needs_location",
    "open_database",
    "reads_location",
]
