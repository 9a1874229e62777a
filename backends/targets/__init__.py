"""The conversion targets: Sigma rules and `aggregate` correlations as SIEM queries.

- ``aggregate_plan``: the one plan of an `aggregate` correlation (stages, fields, metrics, condition)
  that every target renders, with the hooks where targets differ;
- ``splunk``, ``esql``, ``kusto``: SPL, ES|QL and KQL, each over its official pySigma backend;
- ``sql``: DuckDB and Spark SQL, one generator with a dialect class per engine;
- ``catalog``: the targets by name, their Okta pipelines, and converting a pack;
- ``sql_execution``: running the generated SQL on DuckDB or Spark (``run --engine duckdb|spark``).

A new target is one module here plus its line in ``catalog.TARGETS`` and ``sigma.backends.okta_targets``
(``backends/registry/``, what pySigma's autodiscovery registers). Nothing is imported here: the engine
and the command line import only what they use.
"""
