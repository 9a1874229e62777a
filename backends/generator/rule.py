"""The detection the data is made for: rule id and name, the two event types it reads, its window and
collapse bucket, its null group, and the top-level keys of an Okta ``LogEvent``."""

from __future__ import annotations

RULE_ID = "8085b79b-9b85-4e67-ad63-351c9e9a5e9a"
RULE_NAME = "Okta Mismatch Between Source and Response for Verify Push Request"
PUSH_EVENT_TYPE = "system.push.send_factor_verify_push"
RESPONSE_EVENT_TYPE = "user.authentication.auth_via_mfa"
RESPONSE_FACTOR = "OKTA_VERIFY_PUSH"
NULL_GROUP = "NULL"
WINDOW_MS = 3_600_000
BUCKET_MS = 2_000

LOGEVENT_KEYS = (
    "actor",
    "client",
    "device",
    "authenticationContext",
    "displayMessage",
    "eventType",
    "outcome",
    "published",
    "securityContext",
    "severity",
    "debugContext",
    "legacyEventType",
    "transaction",
    "uuid",
    "version",
    "request",
    "target",
)
