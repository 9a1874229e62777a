"""Clients, devices and people: the shared event fragments of one network client, Okta Verify phones,
users, and the seeded :class:`Population` of the org (offices, admins, service actors, policies, apps)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import NamedTuple

from .tables import (
    APPS,
    DESKTOP_AGENTS,
    FIRST_NAMES,
    HOME_CITIES,
    HOME_CITY_WEIGHTS,
    LAST_NAMES,
    MOBILE_BROWSER_AGENTS,
    NON_LATIN_NAMES,
    OFFICE_ISPS,
    OKTA_VERIFY_VERSIONS,
    PHONE_MODELS,
    RESIDENTIAL_ISPS,
    App,
    City,
    Isp,
    UserAgent,
)
from .values import _ascii_login, _ip, _okta_id


class Client(NamedTuple):
    """Pre-built, shared fragments of the events one network client produces."""

    ip: str
    client: dict
    request: dict
    security: dict
    device: dict | None
    dt_hash: str


def _make_client(
    rng: random.Random,
    *,
    ip: str,
    city: City,
    isp: Isp,
    agent: UserAgent,
    kind: str,
    zone: str | None = "null",
    is_proxy: bool = False,
    device: dict | None = None,
) -> Client:
    geo = {
        "city": city.name,
        "state": city.state,
        "country": city.country,
        "postalCode": city.postal,
        "geolocation": {
            "lat": round(city.lat + rng.uniform(-0.04, 0.04), 4),
            "lon": round(city.lon + rng.uniform(-0.04, 0.04), 4),
        },
    }
    client = {
        "userAgent": {"rawUserAgent": agent.raw, "os": agent.os, "browser": agent.browser},
        "zone": zone,
        "device": kind,
        "id": None,
        "ipAddress": ip,
        "geographicalContext": geo,
    }
    request = {
        "ipChain": [
            {"ip": ip, "geographicalContext": geo, "version": "V6" if ":" in ip else "V4", "source": None}
        ]
    }
    security = {
        "asNumber": isp.asn,
        "asOrg": isp.org,
        "isp": isp.name,
        "domain": isp.domain,
        "isProxy": is_proxy,
    }
    return Client(ip, client, request, security, device, rng.randbytes(32).hex())


def _desktop_agent(rng: random.Random) -> UserAgent:
    template, os_name, browser, _ = rng.choices(DESKTOP_AGENTS, weights=[a[3] for a in DESKTOP_AGENTS])[0]
    chrome = rng.randint(128, 134)
    raw = template.format(
        v=chrome,
        b=rng.randint(2400, 3200),
        p=rng.randint(40, 140),
        f=rng.randint(128, 136),
        s=rng.choice(("17.6", "18.1", "18.3", "18.4")),
    )
    return UserAgent(raw, os_name, browser)


def _mobile_browser_agent(rng: random.Random) -> UserAgent:
    template, os_name, browser = rng.choice(MOBILE_BROWSER_AGENTS)
    ios = rng.choice(("17_6_1", "18_3_2", "18_4"))
    raw = template.format(
        ios_=ios, s=ios.replace("_", ".")[:4], android=rng.choice((13, 14, 15)), v=rng.randint(128, 134)
    )
    return UserAgent(raw, os_name, browser)


@dataclass
class Phone:
    """A device enrolled in Okta Verify: what its push target, its app's user agent and ``device`` look like."""

    enrollment: dict
    device: dict
    agent: UserAgent
    category: str
    platform: str


def _make_phone(rng: random.Random) -> Phone:
    model, platform, versions, category = rng.choice(PHONE_MODELS)
    os_version = rng.choice(versions)
    ov = rng.choice(OKTA_VERIFY_VERSIONS)
    if platform == "IOS":
        family = "iPad" if model.startswith("iPad") else "iPhone"
        agent = UserAgent(
            f"OktaVerify/{ov} ({family}; iOS {os_version}; {model}) OktaDeviceSDK/1.{rng.randint(4, 9)}.0",
            "iOS",
            "UNKNOWN",
        )
    else:
        agent = UserAgent(
            f"OktaVerify/{ov} (Linux; Android {os_version}; {model}) OktaDeviceSDK/1.{rng.randint(4, 9)}.0",
            "Android",
            "UNKNOWN",
        )
    device = {
        "id": _okta_id(rng, "guo"),
        "name": model,
        "os_platform": platform,
        "os_version": os_version,
        "managed": rng.random() < 0.3,
        "registered": True,
        "device_integrator": None,
        "disk_encryption_type": "ALL_INTERNAL_VOLUMES" if platform == "IOS" else "FULL",
        "screen_lock_type": rng.choice(("BIOMETRIC", "BIOMETRIC", "PASSCODE")),
        "jailbreak": False,
        "secure_hardware_present": True,
    }
    enrollment = {
        "id": _okta_id(rng, "pfd"),
        "type": "AuthenticatorEnrollment",
        "alternateId": "unknown",
        "displayName": "Okta Verify",
        "detailEntry": {
            "methodTypeUsed": "Get a push notification",
            "methodUsedVerifiedProperties": "[DEVICE_BOUND, HARDWARE_PROTECTED]",
        },
    }
    return Phone(enrollment, device, agent, category, platform)


@dataclass(eq=False)  # identity: users are compared and hashed as objects
class User:
    login: str
    display: str
    actor: dict
    target: dict
    city: City
    home: Client
    office: Client | None
    phones: list[Phone]
    password_target: dict


@dataclass
class Population:
    users: list[User]
    by_device_count: dict[int, list[User]]  # users by number of Okta Verify devices (1-3)
    admins: list[User]
    offices: dict[str, Client]
    service_actors: list[dict]
    service_client: Client
    policy_targets: list[dict]
    app_targets: list[tuple[App, dict]]
    logins: set[str] = field(default_factory=set)  # every login given out, scenarios' own users included


def _person(rng: random.Random, taken: set[str]) -> tuple[str, str]:
    if rng.random() < 0.03:
        display, login = rng.choice(NON_LATIN_NAMES)
        return display, _ascii_login(*login.split("."), taken)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return f"{first} {last}", _ascii_login(first, last, taken)


def _make_user(rng: random.Random, taken: set[str], offices: dict[str, Client]) -> User:
    display, login = _person(rng, taken)
    user_id = _okta_id(rng, "00u")
    actor = {"id": user_id, "type": "User", "alternateId": login, "displayName": display, "detailEntry": None}
    city = rng.choices(HOME_CITIES, weights=HOME_CITY_WEIGHTS)[0]
    isp = rng.choice(RESIDENTIAL_ISPS[city.cc])
    home = _make_client(rng, ip=_ip(rng, isp), city=city, isp=isp, agent=_desktop_agent(rng), kind="Computer")
    office = None
    if rng.random() < 0.6:
        shared = offices[city.name]
        office = shared._replace(
            client={**shared.client, "userAgent": home.client["userAgent"]}, dt_hash=home.dt_hash
        )
    device_count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
    password = {
        "id": _okta_id(rng, "lae"),
        "type": "AuthenticatorEnrollment",
        "alternateId": "unknown",
        "displayName": "Password",
        "detailEntry": None,
    }
    return User(
        login,
        display,
        actor,
        dict(actor),
        city,
        home,
        office,
        [_make_phone(rng) for _ in range(device_count)],
        password,
    )


def _make_population(seed: int, size: int = 1200) -> Population:
    rng = random.Random(f"{seed}:population")
    offices = {}
    for city in HOME_CITIES:
        isp = rng.choice(OFFICE_ISPS)
        offices[city.name] = _make_client(
            rng,
            ip=_ip(rng, isp),
            city=city,
            isp=isp,
            agent=UserAgent("", "", ""),
            kind="Computer",
            zone="Corporate Offices",
        )
    taken: set[str] = set()
    users = [_make_user(rng, taken, offices) for _ in range(size)]
    by_devices: dict[int, list[User]] = {1: [], 2: [], 3: []}
    for user in users:
        by_devices[len(user.phones)].append(user)
    service_actors = [
        {
            "id": client_id,
            "type": "PublicClientApp",
            "alternateId": client_id,
            "displayName": name,
            "detailEntry": None,
        }
        for name in ("Workday Provisioning", "SCIM Connector", "HR Sync Job", "Terraform Okta Provider")
        for client_id in (_okta_id(rng, "0oa"),)
    ]
    service_isp = Isp(16509, "amazon.com, inc.", "amazon technologies inc.", "amazon.com", ("52.23", "54.80"))
    service_client = _make_client(
        rng,
        ip=_ip(rng, service_isp),
        city=HOME_CITIES[0],
        isp=service_isp,
        agent=UserAgent("okta-sdk-java/8.2.5 java/17.0.9 Linux/5.10.215", "Linux", "UNKNOWN"),
        kind="Unknown",
    )
    policy = {
        "id": _okta_id(rng, "00p"),
        "type": "PolicyEntity",
        "alternateId": "unknown",
        "displayName": "Default Global Session Policy",
        "detailEntry": {"policyType": "OktaSignOn"},
    }
    rule = {
        "id": _okta_id(rng, "0pr"),
        "type": "PolicyRule",
        "alternateId": policy["id"],
        "displayName": "Require MFA outside corporate network",
        "detailEntry": None,
    }
    app_targets = [
        (
            app,
            {
                "id": _okta_id(rng, "0oa"),
                "type": "AppInstance",
                "alternateId": app.label,
                "displayName": app.label,
                "detailEntry": {"signOnModeType": app.sign_on},
            },
        )
        for app in APPS
    ]
    return Population(
        users,
        by_devices,
        users[:12],
        offices,
        service_actors,
        service_client,
        [policy, rule],
        app_targets,
        taken,
    )
