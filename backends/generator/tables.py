"""Reference tables: places, networks, agents, people, applications, factors, behaviors, traffic by hour.

No third-party data is copied: every value is hand-written here.
"""

from __future__ import annotations

from typing import NamedTuple


class City(NamedTuple):
    name: str
    state: str
    country: str
    postal: str
    lat: float
    lon: float
    cc: str


class Isp(NamedTuple):
    asn: int
    org: str
    name: str
    domain: str | None
    prefixes: tuple[str, ...]  # two leading octets ("73.15") or an IPv6 /32 ("2607:fb90")


class UserAgent(NamedTuple):
    raw: str
    os: str
    browser: str


class App(NamedTuple):
    name: str
    label: str
    sign_on: str  # SAML_2_0 | OPENID_CONNECT | WS_FEDERATION
    path: str


# fmt: off
HOME_CITIES = (
    City("New York", "New York", "United States", "10013", 40.7209, -74.0007, "US"),
    City("San Francisco", "California", "United States", "94107", 37.7697, -122.3933, "US"),
    City("Chicago", "Illinois", "United States", "60607", 41.8747, -87.6514, "US"),
    City("Austin", "Texas", "United States", "78701", 30.2711, -97.7437, "US"),
    City("Seattle", "Washington", "United States", "98121", 47.6154, -122.3456, "US"),
    City("Denver", "Colorado", "United States", "80202", 39.7525, -104.9995, "US"),
    City("Atlanta", "Georgia", "United States", "30303", 33.7537, -84.3863, "US"),
    City("Boston", "Massachusetts", "United States", "02110", 42.3572, -71.0514, "US"),
    City("Miami", "Florida", "United States", "33131", 25.7634, -80.1886, "US"),
    City("Toronto", "Ontario", "Canada", "M5H 2N2", 43.6511, -79.3832, "CA"),
    City("Montréal", "Quebec", "Canada", "H2Y 1C6", 45.5046, -73.5566, "CA"),
    City("London", "England", "United Kingdom", "EC2V 7HH", 51.5155, -0.0922, "GB"),
    City("Düsseldorf", "North Rhine-Westphalia", "Germany", "40213", 51.2254, 6.7763, "DE"),
    City("Berlin", "Land Berlin", "Germany", "10117", 52.5170, 13.3889, "DE"),
    City("Zürich", "Zurich", "Switzerland", "8001", 47.3717, 8.5423, "CH"),
    City("Kraków", "Lesser Poland", "Poland", "31-042", 50.0614, 19.9366, "PL"),
    City("Malmö", "Skåne County", "Sweden", "211 20", 55.6050, 13.0038, "SE"),
    City("Paris", "Île-de-France", "France", "75002", 48.8667, 2.3333, "FR"),
    City("São Paulo", "São Paulo", "Brazil", "01310-100", -23.5614, -46.6559, "BR"),
    City("Ciudad de México", "Ciudad de México", "Mexico", "06600", 19.4270, -99.1676, "MX"),
    City("Bogotá", "Bogota D.C.", "Colombia", "110111", 4.6097, -74.0817, "CO"),
    City("Bengaluru", "Karnataka", "India", "560001", 12.9716, 77.5946, "IN"),
    City("Tokyo", "Tokyo", "Japan", "100-0005", 35.6812, 139.7671, "JP"),
    City("Sydney", "New South Wales", "Australia", "2000", -33.8688, 151.2093, "AU"),
)
# Where the workforce lives: weights aligned with HOME_CITIES.
HOME_CITY_WEIGHTS = (9, 7, 6, 5, 5, 3, 3, 4, 3, 3, 2, 6, 2, 3, 2, 2, 1, 3, 3, 2, 1, 3, 2, 2)

RESIDENTIAL_ISPS = {
    "US": (
        Isp(7922, "comcast cable communications, llc", "comcast cable", "comcast.net", ("73.15", "98.207", "24.60")),
        Isp(20115, "charter communications inc", "charter communications", "spectrum.com", ("71.84", "97.94")),
        Isp(7018, "at&t services, inc.", "at&t internet services", "att.net", ("99.108", "107.194")),
    ),
    "CA": (Isp(577, "bell canada", "bell canada", "bell.ca", ("70.49", "184.144")),),
    "GB": (Isp(2856, "british telecommunications plc", "bt", "bt.com", ("86.150", "81.152")),),
    "DE": (Isp(3320, "deutsche telekom ag", "deutsche telekom ag", "telekom.de", ("93.211", "79.201")),),
    "CH": (Isp(3303, "swisscom (schweiz) ag", "swisscom", "swisscom.ch", ("178.197", "85.5")),),
    "PL": (Isp(5617, "orange polska spolka akcyjna", "orange polska", "orange.pl", ("83.24", "89.72")),),
    "SE": (Isp(3301, "telia company ab", "telia sverige", "telia.se", ("81.227", "90.224")),),
    "FR": (Isp(3215, "orange s.a.", "orange", "orange.fr", ("90.84", "86.246")),),
    "BR": (Isp(18881, "telefônica brasil s.a", "vivo", "vivo.com.br", ("177.33", "187.57")),),
    "MX": (Isp(8151, "uninet s.a. de c.v.", "telmex", "telmex.com", ("189.203", "187.190")),),
    "CO": (Isp(10620, "telmex colombia s.a.", "claro colombia", "claro.com.co", ("181.49", "186.84")),),
    "IN": (Isp(24560, "bharti airtel ltd.", "airtel broadband", "airtel.in", ("122.171", "182.73")),),
    "JP": (Isp(2516, "kddi corporation", "kddi", "kddi.com", ("106.133", "111.104")),),
    "AU": (Isp(1221, "telstra corporation ltd", "telstra internet", "telstra.com.au", ("120.148", "101.160")),),
}
MOBILE_ISPS = {
    "US": (
        Isp(22394, "verizon business", "verizon wireless", "verizonwireless.com", ("174.205", "97.140")),
        Isp(21928, "t-mobile usa, inc.", "t-mobile usa, inc.", "t-mobile.com", ("172.58", "2607:fb90")),
    ),
    "CA": (Isp(812, "rogers communications canada inc.", "rogers wireless", "rogers.com", ("72.143", "2607:f2c0")),),
    "GB": (Isp(25135, "vodafone limited", "vodafone uk", "vodafone.co.uk", ("85.255", "92.40")),),
    "DE": (Isp(3209, "vodafone gmbh", "vodafone germany", "vodafone.de", ("94.134", "2a02:3032")),),
    "CH": (Isp(15796, "sunrise gmbh", "sunrise", "sunrise.ch", ("212.4", "85.0")),),
    "PL": (Isp(12912, "t-mobile polska s.a.", "t-mobile polska", "t-mobile.pl", ("31.60", "37.248")),),
    "SE": (Isp(1257, "tele2 sverige ab", "tele2", "tele2.se", ("90.129", "2.70")),),
    "FR": (Isp(51207, "free mobile sas", "free mobile", "free.fr", ("37.170", "2a04:cec0")),),
    "BR": (Isp(26615, "tim s/a", "tim celular", "tim.com.br", ("177.79", "191.246")),),
    "MX": (Isp(28403, "radiomovil dipsa, s.a. de c.v.", "telcel", "telcel.com", ("189.217", "201.144")),),
    "CO": (Isp(27831, "colombia movil", "tigo", "tigo.com.co", ("191.95", "181.56")),),
    "IN": (Isp(55836, "reliance jio infocomm limited", "jio", "jio.com", ("49.36", "2409:40c2")),),
    "JP": (Isp(9605, "ntt docomo, inc.", "ntt docomo", "docomo.ne.jp", ("1.75", "49.98")),),
    "AU": (Isp(133612, "vodafone australia pty ltd", "vodafone australia", "vodafone.com.au", ("1.136", "49.176")),),
}
OFFICE_ISPS = (
    Isp(6461, "zayo bandwidth", "zayo bandwidth", "zayo.com", ("64.125", "216.200")),
    Isp(3356, "level 3 parent, llc", "lumen", "lumen.com", ("4.14", "8.42")),
    Isp(174, "cogent communications", "cogent communications", "cogentco.com", ("38.104", "154.27")),
    Isp(8220, "colt technology services group limited", "colt", "colt.net", ("212.36", "213.86")),
)
# Where push-fatigue attackers sign in from: hosting providers, VPN exits and residential proxies.
ATTACKER_NETWORKS = (
    (City("Amsterdam", "North Holland", "Netherlands", "1012", 52.3759, 4.8975, "NL"),
     Isp(14061, "digitalocean, llc", "digitalocean, llc", "digitalocean.com", ("167.99", "164.92"))),
    (City("Bucharest", "Bucharest", "Romania", "010011", 44.4354, 26.1033, "RO"),
     Isp(9009, "m247 europe srl", "m247 ltd", "m247.com", ("89.46", "185.156"))),
    (City("Falkenstein", "Saxony", "Germany", "08223", 50.4779, 12.3713, "DE"),
     Isp(24940, "hetzner online gmbh", "hetzner online gmbh", "hetzner.com", ("95.216", "65.108"))),
    (City("Gravelines", "Hauts-de-France", "France", "59820", 50.9865, 2.1281, "FR"),
     Isp(16276, "ovh sas", "ovh sas", "ovhcloud.com", ("51.38", "141.95"))),
    (City("Los Angeles", "California", "United States", "90017", 34.0544, -118.2441, "US"),
     Isp(20473, "the constant company, llc", "vultr holdings llc", "vultr.com", ("45.77", "149.28"))),
    (City("Ashburn", "Virginia", "United States", "20147", 39.0438, -77.4874, "US"),
     Isp(16509, "amazon.com, inc.", "amazon technologies inc.", "amazon.com", ("3.88", "44.201"))),
    (City("Stockholm", "Stockholm", "Sweden", "111 20", 59.3326, 18.0649, "SE"),
     Isp(39351, "31173 services ab", "31173 services ab", "mullvad.net", ("185.65", "193.138"))),
    (City("Singapore", "Singapore", "Singapore", "018989", 1.2868, 103.8503, "SG"),
     Isp(14061, "digitalocean, llc", "digitalocean, llc", "digitalocean.com", ("128.199", "139.59"))),
    (City("Lagos", "Lagos", "Nigeria", "100001", 6.4550, 3.3941, "NG"),
     Isp(37148, "globacom limited", "globacom limited", "gloworld.com", ("197.210", "105.112"))),
)

_CHROME = "Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
_WINDOWS, _MAC, _LINUX = "Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64"
DESKTOP_AGENTS = (  # (template, os, browser, weight)
    (_CHROME.replace("{platform}", _WINDOWS), "Windows 10", "CHROME", 30),
    (_CHROME.replace("{platform}", _WINDOWS) + " Edg/{v}.0.{b}.{p}", "Windows 10", "EDGE_CHROMIUM", 15),
    (_CHROME.replace("{platform}", _MAC), "Mac OS X", "CHROME", 25),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{s} Safari/605.1.15",
     "Mac OS X", "SAFARI", 15),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", "Windows 10", "FIREFOX", 7),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", "Linux", "FIREFOX", 5),
    (_CHROME.replace("{platform}", _LINUX), "Linux", "CHROME", 3),
)
MOBILE_BROWSER_AGENTS = (
    ("Mozilla/5.0 (iPhone; CPU iPhone OS {ios_} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{s} "
     "Mobile/15E148 Safari/604.1", "iOS", "SAFARI"),
    ("Mozilla/5.0 (Linux; Android {android}; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile "
     "Safari/537.36", "Android", "CHROME"),
)
PHONE_MODELS = (  # Okta Verify devices: (model, os_platform, os versions, device category)
    ("iPhone15,2", "IOS", ("17.5.1", "17.6.1", "18.3.2"), "SmartPhone_IPhone"),
    ("iPhone15,3", "IOS", ("17.4.1", "18.2.1", "18.3.1"), "SmartPhone_IPhone"),
    ("iPhone16,1", "IOS", ("17.7", "18.3.2"), "SmartPhone_IPhone"),
    ("iPhone17,2", "IOS", ("18.2.1", "18.3.2"), "SmartPhone_IPhone"),
    ("iPad13,18", "IOS", ("17.6.1", "18.1"), "Tablet_IPad"),
    ("Pixel 8", "ANDROID", ("14", "15"), "SmartPhone_Android"),
    ("Pixel 7a", "ANDROID", ("14",), "SmartPhone_Android"),
    ("SM-S918B", "ANDROID", ("14", "15"), "SmartPhone_Android"),
    ("SM-A546B", "ANDROID", ("14",), "SmartPhone_Android"),
)
OKTA_VERIFY_VERSIONS = ("9.21.0", "9.24.1", "9.27.0", "9.29.2", "9.31.0")

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Daniel", "Sarah",
    "Kevin", "Emily", "Brian", "Jessica", "Jason", "Laura", "Ryan", "Megan", "Eric", "Rachel", "Priya",
    "Arjun", "Wei", "Mei", "Hiroshi", "Yuki", "Carlos", "Lucia", "Ahmed", "Fatima", "Olga", "Ivan",
    "José", "Zoë", "Łukasz", "Søren", "Björn", "Renée", "Chloé", "Maël", "Çağla", "Đorđe", "Inês",
    "Ana Lúcia", "Jürgen", "Åsa", "Núria", "François",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez",
    "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Lee", "Harris", "Clark", "Lewis",
    "Patel", "Sharma", "Chen", "Wang", "Tanaka", "Sato", "Kim", "Nguyen", "Cohen", "Novak", "Rossi",
    "Álvarez", "Müller", "Wójcik", "Øvergaard", "Nuñez", "Lefèvre", "Öztürk", "Đurić", "Brandão",
    "Gonçalves", "Šimić", "Großmann", "Ångström",
)
NON_LATIN_NAMES = (  # display names in other scripts, with the login their directory gives them
    ("山田 太郎", "taro.yamada"), ("佐藤 花子", "hanako.sato"), ("王 芳", "fang.wang"), ("김 민준", "minjun.kim"),
    ("Алексей Смирнов", "aleksei.smirnov"), ("Σοφία Παπαδοπούλου", "sofia.papadopoulou"),
)
_ASCII_FOLD = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "ß": "ss", "Æ": "Ae", "æ": "ae"})
ORG_DOMAIN = "lumen-freight.example"

APPS = (
    App("salesforce", "Salesforce.com", "SAML_2_0", "/app/salesforce/{id}/sso/saml"),
    App("slack", "Slack", "SAML_2_0", "/app/slack/{id}/sso/saml"),
    App("zoomus", "Zoom", "SAML_2_0", "/app/zoomus/{id}/sso/saml"),
    App("workday", "Workday", "SAML_2_0", "/app/workday/{id}/sso/saml"),
    App("office365", "Microsoft Office 365", "WS_FEDERATION", "/app/office365/{id}/sso/wsfed/passive"),
    App("atlassian", "Atlassian Cloud", "SAML_2_0", "/app/atlassian/{id}/sso/saml"),
    App("servicenow_ud", "ServiceNow", "SAML_2_0", "/app/servicenow_ud/{id}/sso/saml"),
    App("githubcloud", "GitHub Enterprise Cloud", "SAML_2_0", "/app/githubcloud/{id}/sso/saml"),
    App("amazon_aws_sso", "AWS IAM Identity Center", "SAML_2_0", "/app/amazon_aws_sso/{id}/sso/saml"),
    App("oidc_client", "Freight Portal", "OPENID_CONNECT", "/oauth2/v1/authorize"),
    App("oidc_client", "Dispatch Mobile", "OPENID_CONNECT", "/oauth2/aus1freight/v1/authorize"),
)
NON_PUSH_FACTORS = ("SIGNED_NONCE", "SIGNED_NONCE", "FIDO_WEBAUTHN", "OKTA_VERIFY", "EMAIL", "SMS", "GOOGLE_OTP")
# other_factor: MFA denials that are not Okta Verify push, including a lower-case spelling (exporter quirk).
OTHER_FACTORS = ("OKTA_VERIFY", "SMS", "sms")

BEHAVIOR_NAMES = ("New Geo-Location", "New Device", "New IP", "New State", "New Country", "Velocity", "New City")
# Share of events per UTC hour of day (a workforce mostly in the Americas and Europe).
HOUR_WEIGHTS = (
    0.55, 0.50, 0.45, 0.45, 0.50, 0.60, 0.80, 1.00, 1.20, 1.35, 1.40, 1.40,
    1.35, 1.40, 1.45, 1.45, 1.40, 1.30, 1.15, 1.00, 0.90, 0.80, 0.70, 0.60,
)
# fmt: on


_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CLASSIC_SESSION_CHARS = _ALNUM + "-_"
