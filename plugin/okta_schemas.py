"""Where each SIEM keeps the fields of an Okta System Log event: one :class:`OktaSchema` per target.

Rules are written against raw System Log ``LogEvent`` paths (``eventType``, ``client.ipAddress``,
``debugContext.debugData.behaviors``, ...), as SigmaHQ's Okta rules are. A schema says which field a
SIEM's Okta ingestion stores each path in, and what happened to its value on the way. This module is
data and one lookup (:func:`map_field`); the pySigma processing pipelines that apply it live in
:mod:`.okta_pipelines`, and ``docs/field-mappings.md`` gives every table with its sources.

A path a target does not keep is an error, never a guess: :func:`map_field` raises
:class:`UnmappedFieldError` naming the path, the schema, why it is missing when that is known, and the
nearest paths the schema does know.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType

from sigma.exceptions import SigmaError, SigmaRuleLocation


class UnmappedFieldError(SigmaError):
    """A raw Okta field that a target schema does not store (or stores in a form a rule cannot use)."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        schema: str | None = None,
        source: SigmaRuleLocation | None = None,
    ) -> None:
        super().__init__(message, source=source)
        self.field = field
        self.schema = schema


class UnmappedValueError(UnmappedFieldError):
    """The target keeps the field, but not in a form that can express this use of it (a modifier or
    value that the stored form cannot answer)."""


@dataclass(frozen=True)
class EnumValues:
    """The target stores a translation of a closed set of raw values (OCSF's ``status`` for Okta's
    ``outcome.result``). Only equality with one of ``values`` (case-insensitive, as Sigma's default
    equality) can be expressed; it becomes equality with the translated value."""

    values: Mapping[str, str]


@dataclass(frozen=True)
class PositiveBehaviorNames:
    """The target replaced Okta's ``{Name=VALUE, ...}`` behaviors string by the list of the names whose
    value was ``POSITIVE`` (Elastic's ``okta.debug_context.debug_data.risk_behaviors``). Only
    ``contains: '<Name>=POSITIVE'`` can be expressed; it becomes the name being in the list."""


ValueMapping = EnumValues | PositiveBehaviorNames

# The System Log's arrays of objects (Okta's LogEvent: `target` is LogTarget[], `request.ipChain` is
# IpAddress[]). A field under one (`target.displayName`) has one value per element, and a detection
# item on it matches when any element's value matches (docs/semantics.md, Members of lists of
# objects). The engine maps any list it meets on a path; the targets render these two as lists.
LISTS_OF_OBJECTS: tuple[str, ...] = ("target", "request.ipChain")


def list_of_objects(raw: str) -> str | None:
    """The list of objects that raw path ``raw`` is a member of (``target`` for ``target.type``), or None."""
    for prefix in LISTS_OF_OBJECTS:
        if raw.startswith(prefix + ".") and len(raw) > len(prefix) + 1:
            return prefix
    return None


@dataclass(frozen=True)
class StoredList:
    """Where a target keeps a whole list of objects, for the backends that test any element themselves
    (sigma-okta's KQL and ES|QL backends: docs/semantics.md, Members of lists of objects).

    ``form`` says what ``field`` holds: ``dynamic`` (a KQL dynamic column, or a path inside one),
    ``json_text`` (a string column holding the list's JSON) or ``flattened`` (an Elasticsearch
    ``flattened`` field, whose keys hold the values of every element). ``keys`` renames element keys the
    ingestion renamed (raw key -> stored key; an entry ending in ``.`` renames a prefix); ``dropped``
    names element keys (or prefixes ending in ``.``) the ingestion removes, with the reason."""

    field: str
    form: str
    keys: Mapping[str, str] = field(default_factory=dict)
    dropped: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.form not in ("dynamic", "json_text", "flattened"):
            raise ValueError(f"unknown form of a stored list: {self.form!r}")
        for name in ("keys", "dropped"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def stored_key(self, key: str) -> str | None:
        """The key an element holds raw key ``key`` under, or None when the ingestion drops it."""
        if key in self.keys:
            return self.keys[key]
        if any(key == path or (path.endswith(".") and key.startswith(path)) for path in self.dropped):
            return None
        for prefix, stored in self.keys.items():
            if prefix.endswith(".") and key.startswith(prefix):
                return stored + key[len(prefix) :]
        return key

    def dropped_reason(self, key: str) -> str:
        return next(
            reason
            for path, reason in self.dropped.items()
            if key == path or (path.endswith(".") and key.startswith(path))
        )


# Whether the conversion under way renders members of stored lists (set by the backends that do, around
# each conversion); every other consumer of a schema (pySigma's own backends given an Okta pipeline, the
# engine's `run -p`) keeps the schema's refusal of `target.*`, which they cannot honour.
_LISTS_READABLE: ContextVar[bool] = ContextVar("okta_lists_readable", default=False)


@contextmanager
def reading_lists_of_objects() -> Iterator[None]:
    """While active, :func:`map_field` maps a member of a list the schema stores (``OktaSchema.lists``)
    to ``<stored list field>.<stored key>``; :func:`stored_member` splits such a name again."""
    token = _LISTS_READABLE.set(True)
    try:
        yield
    finally:
        _LISTS_READABLE.reset(token)


@dataclass(frozen=True)
class OktaSchema:
    """How one SIEM stores Okta System Log events.

    ``fields`` maps raw paths exactly; ``prefixes`` maps every path under a raw prefix (``"target."``)
    by replacing that prefix; with ``passthrough`` any other path is stored as is. ``unavailable``
    names paths (or prefixes ending in ``.``) the target lacks, with the reason. ``value_mappings``
    and ``boolean_fields`` (raw paths) say where a rule's values must change with the field.
    ``notes`` tell renderers what a target field holds (types, multi-values, dynamic columns).
    ``always_present``, when set, says the table's columns are not fixed (an HTTP Data Collector API
    table gains a column only once an event carried the field): only these columns exist in every
    workspace, queries read the others so that a missing one is null, not an error.
    ``lists`` (raw list path -> :class:`StoredList`) says where the target keeps a list of objects whole,
    for the backends that render any-element tests (:func:`reading_lists_of_objects`).
    """

    id: str
    title: str
    product: str
    source: str
    time_field: str
    table_or_index: str
    fields: Mapping[str, str]
    prefixes: Mapping[str, str] = field(default_factory=dict)
    passthrough: bool = False
    unavailable: Mapping[str, str] = field(default_factory=dict)
    value_mappings: Mapping[str, ValueMapping] = field(default_factory=dict)
    boolean_fields: frozenset[str] = frozenset()
    notes: Mapping[str, str] = field(default_factory=dict)
    always_present: frozenset[str] | None = None
    lists: Mapping[str, StoredList] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Frozen all the way down: a schema is shared by every pipeline built from it.
        for name in ("fields", "prefixes", "unavailable", "value_mappings", "notes", "lists"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        for raw in (*self.value_mappings, *self.boolean_fields):
            if raw not in self.fields:
                raise ValueError(f"{self.id}: value-mapped field {raw!r} needs a field mapping")

    def known_fields(self) -> list[str]:
        """Raw paths and prefixes this schema maps, for messages and documentation."""
        return sorted({*self.fields, *(f"{prefix}*" for prefix in self.prefixes)})


def map_field(schema: OktaSchema, raw: str) -> str:
    """The target field that stores raw System Log path ``raw``; raises :class:`UnmappedFieldError`."""
    if raw in schema.fields:
        return schema.fields[raw]
    listed = list_of_objects(raw)
    if listed is not None and listed in schema.lists and _LISTS_READABLE.get():
        return _stored_member_field(schema, schema.lists[listed], raw, raw[len(listed) + 1 :])
    reason = _unavailable_reason(schema, raw)
    if reason is None:
        for prefix, target_prefix in schema.prefixes.items():
            if raw.startswith(prefix) and len(raw) > len(prefix):
                return target_prefix + raw[len(prefix) :]
        if schema.passthrough:
            return raw
    raise UnmappedFieldError(_unmapped_message(schema, raw, reason), field=raw, schema=schema.id)


def _stored_member_field(schema: OktaSchema, stored: StoredList, raw: str, key: str) -> str:
    stored_key = stored.stored_key(key)
    if stored_key is None:
        message = (
            f"field '{raw}' is not available in schema '{schema.id}' ({schema.title}): "
            f"{stored.dropped_reason(key)}"
        )
        raise UnmappedFieldError(message, field=raw, schema=schema.id)
    return f"{stored.field}.{stored_key}"


def stored_member(schema: OktaSchema | None, target_field: str) -> tuple[StoredList, tuple[str, ...]] | None:
    """The stored list a mapped field is a member of and the keys inside one element
    (``OriginalTarget.displayName`` -> the ``OriginalTarget`` list, ``("displayName",)``), or None."""
    if schema is None:
        return None
    for stored in schema.lists.values():
        if target_field.startswith(stored.field + ".") and len(target_field) > len(stored.field) + 1:
            return stored, tuple(target_field[len(stored.field) + 1 :].split("."))
    return None


def _unavailable_reason(schema: OktaSchema, raw: str) -> str | None:
    for path, reason in schema.unavailable.items():
        if raw == path or (path.endswith(".") and raw.startswith(path)):
            return reason
    return None


def _unmapped_message(schema: OktaSchema, raw: str, reason: str | None) -> str:
    message = f"field '{raw}' is not available in schema '{schema.id}' ({schema.title})"
    if reason:
        message += f": {reason}"
    candidates = [*schema.fields, *schema.prefixes]
    nearest = difflib.get_close_matches(raw, candidates, n=3, cutoff=0.5)
    if nearest:
        message += ". Nearest fields it maps: " + ", ".join(nearest)
    return message


# --- Splunk Add-on for Okta Identity Cloud ------------------------------------------------------------

SPLUNK_TA = OktaSchema(
    id="okta_splunk_ta",
    title="Splunk Add-on for Okta Identity Cloud",
    product="Splunk with the Splunk Add-on for Okta Identity Cloud (Splunkbase app 6553), sourcetype OktaIM2:log",
    source=(
        "Splunk ESCU detections on OktaIM2:log use the raw LogEvent paths (splunk/security_content "
        "detections/application/okta_*.yml: "
        "okta_mismatch_between_source_and_response_for_verify_push_request.yml @ 3c95f857, "
        "okta_new_device_enrolled_on_account.yml @ 04c31547); array elements are named with {} by Splunk's JSON "
        "field extraction (spath path syntax 'commits{}.author.name', Splunk SPL2 spath reference)"
    ),
    time_field="_time",
    table_or_index='sourcetype="OktaIM2:log"',
    fields={},
    # Splunk names the members of JSON arrays 'array{}.member'; the System Log's arrays of objects are
    # `target` and `request.ipChain`. Every other path is extracted under its raw name.
    prefixes={f"{prefix}.": f"{prefix}{{}}." for prefix in LISTS_OF_OBJECTS},
    passthrough=True,
    notes={
        "target{}.displayName": "multi-valued: one value per target; a match on any value matches the event",
        "debugContext.debugData.behaviors": "Okta's string '{New Device=POSITIVE, New IP=NEGATIVE, ...}'",
    },
)

# --- Elastic Okta integration --------------------------------------------------------------------------

ELASTIC = OktaSchema(
    id="okta_elastic",
    title="Elastic Okta integration (okta.system data stream)",
    product="Elastic Agent Okta integration 2.12.0, data stream logs-okta.system-* (ECS 8.11 + okta.*)",
    source=(
        "elastic/integrations packages/okta/data_stream/system: elasticsearch/ingest_pipeline/default.yml "
        "@ 1dfd370d, use_flattened_debug.yml @ 4002b834, no_use_flattened_debug.yml @ 5b9acc9b, "
        "fields/fields.yml @ b9f31ced, manifest (package 2.12.0) @ 32b0b641"
    ),
    time_field="@timestamp",
    table_or_index="logs-okta.system-*",
    # One field per raw path, preferring the okta.* copy that keeps Okta's value: the ECS copies are
    # sometimes transformed (event.outcome is lower-case success/failure/unknown with ALLOW/DENY folded
    # in; user.name comes out of a grok of the alternateId).
    fields={
        "uuid": "okta.uuid",
        "published": "@timestamp",
        "eventType": "okta.event_type",
        "displayMessage": "okta.display_message",
        "actor.alternateId": "okta.actor.alternate_id",
        "actor.displayName": "okta.actor.display_name",
        "actor.id": "okta.actor.id",
        "actor.type": "okta.actor.type",
        "authenticationContext.authenticationProvider": "okta.authentication_context.authentication_provider",
        "authenticationContext.authenticationStep": "okta.authentication_context.authentication_step",
        "authenticationContext.credentialProvider": "okta.authentication_context.credential_provider",
        "authenticationContext.credentialType": "okta.authentication_context.credential_type",
        "authenticationContext.externalSessionId": "okta.authentication_context.external_session_id",
        "authenticationContext.issuer.id": "okta.authentication_context.issuer.id",
        "authenticationContext.issuer.type": "okta.authentication_context.issuer.type",
        "client.device": "okta.client.device",
        "client.id": "okta.client.id",
        "client.ipAddress": "okta.client.ip",
        "client.userAgent.browser": "okta.client.user_agent.browser",
        "client.userAgent.os": "okta.client.user_agent.os",
        "client.userAgent.rawUserAgent": "okta.client.user_agent.raw_user_agent",
        "client.zone": "okta.client.zone",
        "client.geographicalContext.city": "client.geo.city_name",
        "client.geographicalContext.state": "client.geo.region_name",
        "client.geographicalContext.country": "client.geo.country_name",
        "debugContext.debugData.behaviors": "okta.debug_context.debug_data.risk_behaviors",
        "debugContext.debugData.deviceFingerprint": "okta.debug_context.debug_data.device_fingerprint",
        "debugContext.debugData.dtHash": "okta.debug_context.debug_data.dt_hash",
        "debugContext.debugData.factor": "okta.debug_context.debug_data.factor",
        "debugContext.debugData.requestId": "okta.debug_context.debug_data.request_id",
        "debugContext.debugData.requestUri": "okta.debug_context.debug_data.request_uri",
        "debugContext.debugData.threatSuspected": "okta.debug_context.debug_data.threat_suspected",
        "debugContext.debugData.url": "okta.debug_context.debug_data.url",
        "outcome.reason": "okta.outcome.reason",
        "outcome.result": "okta.outcome.result",
        "securityContext.asNumber": "okta.security_context.as.number",
        "securityContext.asOrg": "okta.security_context.as.organization.name",
        "securityContext.domain": "okta.security_context.domain",
        "securityContext.isProxy": "okta.security_context.is_proxy",
        "securityContext.isp": "okta.security_context.isp",
        "transaction.id": "okta.transaction.id",
        "transaction.type": "okta.transaction.type",
    },
    unavailable={
        "legacyEventType": "the ingest pipeline never copies json.legacyEventType and then removes json",
        "severity": "the ingest pipeline never copies json.severity and then removes json",
        "version": "the ingest pipeline never copies json.version and then removes json",
        "authenticationContext.interface": (
            "the ingest pipeline renames it onto okta.authentication_context.authentication_provider, "
            "where it cannot be told apart from authenticationProvider"
        ),
        "client.geographicalContext.postalCode": "the ingest pipeline drops it",
        "debugContext.debugData.logOnlySecurityData": (
            "the ingest pipeline parses the JSON string into an object inside the flattened field "
            "okta.debug_context.debug_data.flattened (only risk_level and risk_reasons are lifted out); "
            "the string a rule would match is not kept"
        ),
        "target.": (
            "okta.target is a flattened field holding the whole target array: ES|QL cannot address its "
            "keys as columns, and user.target.* / user.target.group.* hold only the first User / "
            "UserGroup target, not every target a raw path matches"
        ),
        "request.": "okta.request.ip_chain is a flattened array, not addressable per key",
        "debugContext.debugData.": (
            "other debugData keys are kept only inside the flattened field "
            "okta.debug_context.debug_data.flattened (the default), or as okta.debug_context.debug_data.<key> "
            "when the integration's remove_flattened_debug option is set: which one depends on the policy"
        ),
    },
    value_mappings={"debugContext.debugData.behaviors": PositiveBehaviorNames()},
    boolean_fields=frozenset({"securityContext.isProxy"}),
    # The two lists are `flattened` fields (fields.yml): each key holds the values of every element.
    # default.yml renames json.target to okta.target and, per element, alternateId -> alternate_id and
    # displayName -> display_name, keeping only two keys of detailEntry (script okta-target-modifications);
    # request.ipChain becomes okta.request.ip_chain with geographicalContext (and its postalCode) renamed.
    lists={
        "target": StoredList(
            "okta.target",
            "flattened",
            keys={
                "alternateId": "alternate_id",
                "displayName": "display_name",
                "detailEntry.methodTypeUsed": "detailEntry.methodTypeUsed",
                "detailEntry.methodUsedVerifiedProperties": "detailEntry.methodUsedVerifiedProperties",
            },
            dropped={
                "detailEntry.": (
                    "the ingest pipeline keeps only methodTypeUsed and methodUsedVerifiedProperties of a "
                    "target's detailEntry"
                )
            },
        ),
        "request.ipChain": StoredList(
            "okta.request.ip_chain",
            "flattened",
            keys={
                "geographicalContext.postalCode": "geographical_context.postal_code",
                "geographicalContext.": "geographical_context.",
            },
        ),
    },
    notes={
        "okta.target": (
            "flattened: every key holds the values of all targets (sorted, without duplicates); ES|QL "
            'reads a key with FIELD_EXTRACT(okta.target, "display_name") (Elasticsearch 9.5 preview, 9.6 GA)'
        ),
        "okta.debug_context.debug_data.risk_behaviors": (
            "multi-valued keyword: the names of the behaviors whose value was POSITIVE, absent when none "
            "was. ES|QL comparisons on a multi-valued field return null (the row is dropped): test "
            'membership with MV_CONTAINS(field, "New Device") (ES 9.2+) and group by '
            'MV_CONCAT(MV_SORT(field), ",") rather than the field itself'
        ),
        "okta.client.ip": "type ip: equality and CIDR only; wildcards (contains, startswith) do not apply",
        "okta.security_context.is_proxy": "type boolean",
        "@timestamp": "date parsed from published (ISO 8601)",
    },
)

# --- Microsoft Sentinel: Okta Single Sign-On solution ------------------------------------------------------

SENTINEL = OktaSchema(
    id="okta_sentinel",
    title="Microsoft Sentinel Okta SSO codeless connector (OktaV2_CL)",
    product="Microsoft Sentinel, Okta Single Sign-On solution, codeless connector (CCP) table OktaV2_CL",
    source=(
        "Azure/Azure-Sentinel Solutions/Okta Single Sign-On/Data Connectors/OktaNativePollerConnectorV2/"
        "OktaSSOv2_DCR.json @ 1095f2df (transformKql) and OktaSSOv2_Tables.json @ f040568d (columns); "
        "Parsers/OktaSSO.yaml @ 4cb00700 (maps every OktaV2_CL column back to its Okta_CL name)"
    ),
    time_field="TimeGenerated",
    table_or_index="OktaV2_CL",
    # The DCR projects each raw path into one column; where it also derives an ASIM-style column whose
    # value differs (EventResult 'Success', ActorUsername empty unless the alternateId has an '@',
    # SrcDeviceType), the Original* column that keeps Okta's value is used.
    fields={
        "uuid": "EventOriginalUid",
        "published": "TimeGenerated",
        "eventType": "EventOriginalType",
        "legacyEventType": "LegacyEventType",
        "displayMessage": "EventMessage",
        "severity": "OriginalSeverity",
        "version": "Version",
        "actor.alternateId": "OriginalActorAlternateId",
        "actor.displayName": "ActorDisplayName",
        "actor.id": "OriginalUserId",
        "actor.type": "OriginalUserType",
        "authenticationContext.authenticationProvider": "AuthenticationContextAuthenticationProvider",
        "authenticationContext.authenticationStep": "AuthenticationContextAuthenticationStep",
        "authenticationContext.credentialProvider": "AuthenticationContextCredentialProvider",
        "authenticationContext.credentialType": "LogonMethod",
        "authenticationContext.externalSessionId": "ActorSessionId",
        "authenticationContext.interface": "AuthenticationContextInterface",
        "authenticationContext.issuer.id": "AuthenticationContextIssuerId",
        "authenticationContext.issuer.type": "AuthenticationContextIssuerType",
        "client.device": "OriginalClientDevice",
        "client.id": "SrcDvcId",
        "client.ipAddress": "SrcIpAddr",
        "client.userAgent.browser": "ActingAppName",
        "client.userAgent.os": "SrcDvcOs",
        "client.userAgent.rawUserAgent": "HttpUserAgent",
        "client.zone": "SrcZone",
        "client.geographicalContext.city": "SrcGeoCity",
        "client.geographicalContext.state": "SrcGeoRegion",
        "client.geographicalContext.country": "SrcGeoCountry",
        "client.geographicalContext.postalCode": "SrcGeoPostalCode",
        "client.geographicalContext.geolocation.lat": "SrcGeoLatitude",
        "client.geographicalContext.geolocation.lon": "SrcGeoLongtitude",  # sic: the column's spelling
        "outcome.reason": "EventOriginalResultDetails",
        "outcome.result": "OriginalOutcomeResult",
        "securityContext.asNumber": "SecurityContextAsNumber",
        "securityContext.asOrg": "SecurityContextAsOrg",
        "securityContext.domain": "SecurityContextDomain",
        "securityContext.isProxy": "SecurityContextIsProxy",
        "securityContext.isp": "SrcIsp",
        "transaction.id": "TransactionId",
        "transaction.type": "TransactionType",
    },
    # debugContext.debugData, actor.detailEntry and transaction.detail are stored whole in dynamic
    # columns, so every key under them keeps its name.
    prefixes={
        "debugContext.debugData.": "DebugData.",
        "actor.detailEntry.": "ActorDetailEntry.",
        "transaction.detail.": "TransactionDetail.",
    },
    unavailable={
        "target.": (
            "the target array is stored whole in the dynamic column OriginalTarget; matching a member "
            "of any element needs mv-apply, not a column"
        ),
        "request.": "request.ipChain is an array inside the dynamic column Request",
    },
    boolean_fields=frozenset({"securityContext.isProxy"}),
    # the DCR's transformKql keeps both lists whole: `OriginalTarget = target`, `Request = request`
    lists={
        "target": StoredList("OriginalTarget", "dynamic"),
        "request.ipChain": StoredList("Request.ipChain", "dynamic"),
    },
    notes={
        "DebugData.": (
            "member of the dynamic column DebugData: render as DebugData.factor (or tostring(DebugData.factor)); "
            "pySigma's KustoBackend single-quotes dotted names, which KQL reads as a string literal"
        ),
        "SecurityContextIsProxy": "type bool (tobool(securityContext.isProxy))",
        "TimeGenerated": "todatetime(published)",
    },
)

SENTINEL_LEGACY = OktaSchema(
    id="okta_sentinel_legacy",
    title="Microsoft Sentinel Okta SSO Azure Functions connector (Okta_CL)",
    product=(
        "Microsoft Sentinel, Okta Single Sign-On solution, Azure Functions connector writing Okta_CL "
        "through the HTTP Data Collector API (nested paths become a_b_c columns with a type suffix)"
    ),
    source=(
        "Azure/Azure-Sentinel Solutions/Okta Single Sign-On: Data Connectors/OktaSingleSign-On/"
        "AzureFunctionOktaSSO_V2/AzureFunctionOktaSSO/run.ps1 @ b1882540 (Log-Type Okta, "
        "time-generated-field published); Analytic Rules/MFAFatigue.yaml @ bf997e9e and "
        "NewDeviceLocationCriticalOperation.yaml @ cbdb7dfe (queries on the columns); Parsers/OktaSSO.yaml "
        "@ 4cb00700; a workspace schema export of Okta_CL (LaurieRhodes/Powershell-Kusto-Schema-Tools, "
        "bicep-tables-from-json/Okta_CL/okta_cl-table.bicep @ 13dc6ebe)"
    ),
    time_field="TimeGenerated",
    table_or_index="Okta_CL",
    fields={
        "uuid": "uuid_g",
        "published": "published_t",
        "eventType": "eventType_s",
        "legacyEventType": "legacyEventType_s",
        "displayMessage": "displayMessage_s",
        "severity": "severity_s",
        "version": "version_s",
        "actor.alternateId": "actor_alternateId_s",
        "actor.displayName": "actor_displayName_s",
        "actor.id": "actor_id_s",
        "actor.type": "actor_type_s",
        "authenticationContext.authenticationProvider": "authenticationContext_authenticationProvider_s",
        "authenticationContext.authenticationStep": "authenticationContext_authenticationStep_d",
        "authenticationContext.credentialProvider": "authenticationContext_credentialProvider_s",
        "authenticationContext.credentialType": "authenticationContext_credentialType_s",
        "authenticationContext.externalSessionId": "authenticationContext_externalSessionId_s",
        "authenticationContext.interface": "authenticationContext_interface_s",
        "client.device": "client_device_s",
        "client.id": "client_id_s",
        "client.ipAddress": "client_ipAddress_s",
        "client.userAgent.browser": "client_userAgent_browser_s",
        "client.userAgent.os": "client_userAgent_os_s",
        "client.userAgent.rawUserAgent": "client_userAgent_rawUserAgent_s",
        "client.zone": "client_zone_s",
        "client.geographicalContext.city": "client_geographicalContext_city_s",
        "client.geographicalContext.state": "client_geographicalContext_state_s",
        "client.geographicalContext.country": "client_geographicalContext_country_s",
        "client.geographicalContext.postalCode": "client_geographicalContext_postalCode_s",
        "client.geographicalContext.geolocation.lat": "client_geographicalContext_geolocation_lat_d",
        "client.geographicalContext.geolocation.lon": "client_geographicalContext_geolocation_lon_d",
        "debugContext.debugData.authnRequestId": "debugContext_debugData_authnRequestId_s",
        # Not seen in a published query, but named by the same Data Collector API rule as its verified
        # siblings (factor, requestUri, logOnlySecurityData, threatSuspected): a string value of
        # debugContext.debugData becomes debugContext_debugData_<key>_s.
        "debugContext.debugData.behaviors": "debugContext_debugData_behaviors_s",
        "debugContext.debugData.factor": "debugContext_debugData_factor_s",
        "debugContext.debugData.logOnlySecurityData": "debugContext_debugData_logOnlySecurityData_s",
        "debugContext.debugData.requestId": "debugContext_debugData_requestId_s",
        "debugContext.debugData.requestUri": "debugContext_debugData_requestUri_s",
        "debugContext.debugData.threatSuspected": "debugContext_debugData_threatSuspected_s",
        "debugContext.debugData.url": "debugContext_debugData_url_s",
        "outcome.reason": "outcome_reason_s",
        "outcome.result": "outcome_result_s",
        "securityContext.asNumber": "securityContext_asNumber_d",
        "securityContext.asOrg": "securityContext_asOrg_s",
        "securityContext.domain": "securityContext_domain_s",
        "securityContext.isProxy": "securityContext_isProxy_b",
        "securityContext.isp": "securityContext_isp_s",
        "transaction.id": "transaction_id_s",
        "transaction.type": "transaction_type_s",
    },
    unavailable={
        "target.": (
            "the Data Collector API stores the target array as one JSON string, target_s; a member of "
            "any element is not a column"
        ),
        "request.": "request.ipChain is stored as one JSON string, request_ipChain_s",
        "debugContext.debugData.": (
            "other debugData keys get a column only once an event carried them, and its type suffix "
            "(_s, _g, _d) depends on the first value seen (deviceFingerprint became _g): not guessed"
        ),
    },
    boolean_fields=frozenset({"securityContext.isProxy"}),
    # the Data Collector API writes an array as the JSON text of a string column (target_s, in the export)
    lists={
        "target": StoredList("target_s", "json_text"),
        "request.ipChain": StoredList("request_ipChain_s", "json_text"),
    },
    notes={
        "TimeGenerated": "set from published by the connector (time-generated-field header)",
        "published_t": "datetime",
        "securityContext_isProxy_b": "type bool",
    },
    # the columns of the fields Okta sets on every System Log event (its LogEvent object); any
    # other column exists only in workspaces where some event carried the field
    always_present=frozenset(
        {
            "TimeGenerated",
            "uuid_g",
            "published_t",
            "eventType_s",
            "version_s",
            "severity_s",
            "displayMessage_s",
            "actor_id_s",
            "actor_type_s",
            "actor_alternateId_s",
            "actor_displayName_s",
        }
    ),
)

# --- OCSF 1.3 Authentication -------------------------------------------------------------------------------

OCSF = OktaSchema(
    id="okta_ocsf",
    title="OCSF 1.3 Authentication (class_uid 3002)",
    product="OCSF 1.3.0 Authentication events produced by an Okta System Log mapping (ocsf/examples)",
    source=(
        "ocsf/examples mappings/markdown/Okta/v1.3.0/System Logs/Authentication/README.md @ 28e4594e "
        "(explicit and conditional mappings; 'Any fields not present in an explicit mapping will be mapped "
        "to the unmapped object') and samples/authentication.ocsf @ 28e4594e"
    ),
    time_field="time",
    table_or_index="ocsf_authentication",
    fields={
        "uuid": "metadata.uid",
        "published": "time",
        "eventType": "metadata.event_code",
        "displayMessage": "message",
        "version": "metadata.product.version",
        "actor.alternateId": "actor.user.email_addr",
        "actor.displayName": "actor.user.name",
        "actor.id": "actor.user.uid",
        "authenticationContext.externalSessionId": "actor.session.uid",
        "authenticationContext.issuer.id": "actor.session.issuer",
        "client.device": "src_endpoint.type",
        "client.ipAddress": "src_endpoint.ip",
        "client.userAgent.rawUserAgent": "http_request.user_agent",
        "client.geographicalContext.city": "src_endpoint.location.city",
        "client.geographicalContext.country": "src_endpoint.location.country",
        "client.geographicalContext.postalCode": "src_endpoint.location.postal_code",
        "client.geographicalContext.geolocation.lat": "src_endpoint.location.lat",
        "client.geographicalContext.geolocation.lon": "src_endpoint.location.long",
        "securityContext.domain": "src_endpoint.domain",
        "securityContext.isp": "src_endpoint.location.isp",
        "securityContext.asOrg": "src_endpoint.autonomous_system.name",
        "securityContext.asNumber": "src_endpoint.autonomous_system.number",
        "debugContext.debugData.url": "dst_endpoint.svc_name",
        "debugContext.debugData.requestId": "http_request.uid",
        "device.id": "device.uid",
        "device.name": "device.name",
        "outcome.result": "status",
        # Kept under `unmapped` as the sample shows them (unmapped.securityContext.isProxy,
        # unmapped.authenticationContext.rootSessionId, unmapped.transaction.id).
        "securityContext.isProxy": "unmapped.securityContext.isProxy",
        "transaction.id": "unmapped.transaction.id",
    },
    # The sample keeps debugContext.debugData minus its explicitly mapped keys (url, requestId) under
    # unmapped.debugContext.debugData (requestUri is there); the rest of debugData, factor and
    # behaviors included, lands beside it by the same rule.
    prefixes={
        "debugContext.debugData.": "unmapped.debugContext.debugData.",
        "authenticationContext.": "unmapped.authenticationContext.",
    },
    unavailable={
        "legacyEventType": (
            "not in the mapping, and the sample drops it although its raw event had one "
            "(core.user_auth.login_success): producers do not keep it reliably"
        ),
        "severity": "mapped to severity_id / severity, OCSF's normalized scale, not Okta's value",
        "actor.type": "mapped conditionally to actor.user.type / type_id, OCSF's normalized user type",
        "client.userAgent.os": "mapped conditionally to src_endpoint.os.name / type, a normalized value",
        "transaction.type": "mapped conditionally to logon_type / logon_type_id, a normalized value",
        "outcome.reason": "not in the mapping and not in the sample's unmapped object",
        "target.": (
            "the target array is kept only as unmapped.target, an array: a member of any element is not "
            "a field path"
        ),
        "request.": "request.ipChain is an array under unmapped.request",
    },
    value_mappings={"outcome.result": EnumValues({"SUCCESS": "Success", "FAILURE": "Failure"})},
    boolean_fields=frozenset({"securityContext.isProxy"}),
    notes={
        "status": "OCSF status caption (Success, Failure, Unknown, Other), with status_id 1/2/0/99",
        "time": "timestamp_t: milliseconds since the epoch (the example writes seconds)",
        "src_endpoint.type": (
            "mapped from client.device without a stated transformation, but the example's output "
            "(Mobile for a raw Computer) shows producers normalizing it: check yours"
        ),
        "actor.user.email_addr": "Okta's actor.alternateId, whatever its form (not always an e-mail)",
        "unmapped.": "layout depends on the producer (Amazon Security Lake stores unmapped as map<string,string>)",
    },
)


SCHEMAS: Mapping[str, OktaSchema] = MappingProxyType(
    {schema.id: schema for schema in (SPLUNK_TA, ELASTIC, SENTINEL, SENTINEL_LEGACY, OCSF)}
)


def get_schema(schema_id: str) -> OktaSchema:
    try:
        return SCHEMAS[schema_id]
    except KeyError:
        raise KeyError(f"unknown Okta schema '{schema_id}'; known: {', '.join(SCHEMAS)}") from None
