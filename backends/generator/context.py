"""``_ScenarioContext``: what scenario and background builders draw from (randomness, people, unique
session ids) and the clients sessions come from (attacker, new laptop, known laptop, Okta Verify phone)."""

from __future__ import annotations

import random

from .events import KNOWN_SIGNAL, NEW_NETWORK_SIGNAL, Signal
from .population import Client, Phone, Population, User, _desktop_agent, _make_client, _make_user
from .tables import ATTACKER_NETWORKS, MOBILE_ISPS, RESIDENTIAL_ISPS, City, Isp
from .values import _case_twin, _ip, _session_id, behaviors_text


class _ScenarioContext:
    """What scenario builders draw from: randomness, people, unique session ids."""

    def __init__(self, rng: random.Random, population: Population, used_ids: set[str]) -> None:
        self.rng = rng
        self.population = population
        self.used_ids = used_ids
        self.used_ips: set[str] = set()  # addresses given to scenarios' attackers, each to one only

    def new_session_id(self, classic: bool) -> str:
        while True:
            session_id = _session_id(self.rng, classic)
            twin = _case_twin(session_id)
            if session_id not in self.used_ids and twin != session_id and twin not in self.used_ids:
                self.used_ids.add(session_id)
                return session_id

    def claim_session_id(self, session_id: str) -> str:
        if session_id in self.used_ids:
            raise ValueError(f"session id {session_id} already used")
        self.used_ids.add(session_id)
        return session_id

    def user(self, devices: int | None = None) -> User:
        """Any user, or one with exactly `devices` Okta Verify devices (a push goes to each of them)."""
        if devices is None:
            return self.rng.choice(self.population.users)
        return self.rng.choice(self.population.by_device_count[devices])

    def fresh_user(self) -> User:
        """A user of the org who does nothing but this scenario (no background, no other scenario): what
        near misses of per-user thresholds are built on, so that nothing else can push them over."""
        return _make_user(self.rng, self.population.logins, self.population.offices)

    def fresh_ip(self, isp: Isp) -> str:
        while True:
            ip = _ip(self.rng, isp)
            if ip not in self.used_ips:
                self.used_ips.add(ip)
                return ip

    def attacker_client(self, unique: bool = False) -> tuple[Client, Signal]:
        """An attacker's client; ``unique``: on an address no other scenario gets (per-address thresholds)."""
        rng = self.rng
        city, isp = rng.choice(ATTACKER_NETWORKS)
        client = _make_client(
            rng,
            ip=self.fresh_ip(isp) if unique else _ip(rng, isp),
            city=city,
            isp=isp,
            agent=_desktop_agent(rng),
            kind="Computer",
            is_proxy=rng.random() < 0.4,
        )
        far = rng.random() < 0.8
        behaviors = behaviors_text(
            New_Geo__Location=far,
            New_Device=True,
            New_IP=True,
            New_State=True,
            New_Country=far,
            Velocity=far and rng.random() < 0.7,
            New_City=True,
        )
        level = rng.choice(("MEDIUM", "HIGH"))
        reasons = "Anomalous Device, Anomalous Location" if far else "Anomalous Device"
        return client, Signal(behaviors, f"{{reasons={reasons}, level={level}}}", level, rng.random() < 0.5)

    def new_laptop_client(self, user: User) -> tuple[Client, Signal]:
        """A brand-new laptop on a network the user never used (hotel, co-working space, a friend's home)."""
        rng = self.rng
        isp = rng.choice(RESIDENTIAL_ISPS[user.city.cc])
        client = _make_client(
            rng, ip=_ip(rng, isp), city=user.city, isp=isp, agent=_desktop_agent(rng), kind="Computer"
        )
        behaviors = behaviors_text(New_Device=True, New_IP=True, New_City=rng.random() < 0.2)
        return client, Signal(behaviors, "{reasons=Anomalous Device, level=MEDIUM}", "MEDIUM", False)

    def known_laptop_client(self, user: User) -> tuple[Client, Signal]:
        client = user.office if user.office is not None and self.rng.random() < 0.5 else user.home
        if self.rng.random() < 0.25:  # a known laptop on a new network: New IP only
            return client, NEW_NETWORK_SIGNAL
        return client, KNOWN_SIGNAL

    def phone_client(self, user: User, phone: Phone, same_as: Client | None = None) -> Client:
        """The Okta Verify app: on the sign-in client's network when `same_as`, else on the cellular network."""
        rng = self.rng
        if same_as is not None:
            geo = same_as.client["geographicalContext"]
            city = City(
                geo["city"],
                geo["state"],
                geo["country"],
                geo["postalCode"],
                geo["geolocation"]["lat"],
                geo["geolocation"]["lon"],
                user.city.cc,
            )
            security = same_as.security
            isp = Isp(security["asNumber"], security["asOrg"], security["isp"], security["domain"], ())
            return _make_client(
                rng, ip=same_as.ip, city=city, isp=isp, agent=phone.agent, kind="Mobile", device=phone.device
            )
        isp = rng.choice(MOBILE_ISPS[user.city.cc])
        return _make_client(
            rng,
            ip=_ip(rng, isp),
            city=user.city,
            isp=isp,
            agent=phone.agent,
            kind="Mobile",
            device=phone.device,
        )

    def source(self, kind: str, user: User) -> tuple[Client, Signal]:
        if kind == "attacker":
            return self.attacker_client()
        if kind == "new_laptop":
            return self.new_laptop_client(user)
        return self.known_laptop_client(user)
