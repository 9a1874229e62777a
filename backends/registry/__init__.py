"""What pySigma's plugin autodiscovery registers from sigma-okta: the conversion backends.

Autodiscovery imports every module under ``sigma.backends`` and registers the backend classes found at
its top level (by their ``identifier``). They are declared here, in their own small package
(``sigma.backends.okta_targets``), rather than in ``sigma.backends.okta``: importing the official
backends they build on costs ~0.15 s (Elasticsearch's package alone ~0.1 s), which every engine run,
living in ``sigma.backends.okta``, would otherwise pay at start.
"""

from sigma.backends.okta.targets.esql import OktaESQLBackend
from sigma.backends.okta.targets.kusto import OktaKustoBackend
from sigma.backends.okta.targets.splunk import OktaSplunkBackend
from sigma.backends.okta.targets.sql import OktaDuckDBBackend, OktaSparkBackend

__all__ = [
    "OktaDuckDBBackend",
    "OktaESQLBackend",
    "OktaKustoBackend",
    "OktaSparkBackend",
    "OktaSplunkBackend",
]
