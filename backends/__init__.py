"""sigma-okta's backends: the conversion backends (SPL, ES|QL, KQL, DuckDB and Spark SQL) and the
streaming execution engine (:mod:`sigma.backends.okta.engine`).

pySigma's autodiscovery registers every backend class found at this module's top level, so only
conversion backend classes are imported here.
"""
