"""sigma-okta's backends: the conversion targets (SPL, ES|QL, KQL, DuckDB and Spark SQL) and the
streaming execution engine (:mod:`sigma.backends.okta.engine`).

pySigma's autodiscovery registers every backend class found at this module's top level (by its
``identifier``), so exactly the conversion backends are imported here, nothing else.
"""

from .esql import OktaESQLBackend
from .kusto import OktaKustoBackend
from .splunk import OktaSplunkBackend
from .sql import OktaDuckDBBackend, OktaSparkBackend

__all__ = ["OktaDuckDBBackend", "OktaESQLBackend", "OktaKustoBackend", "OktaSparkBackend", "OktaSplunkBackend"]
