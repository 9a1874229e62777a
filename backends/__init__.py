"""sigma-okta's backends: the conversion targets (``splunk.py``, ``esql.py``, ``kusto.py``, ``sql.py``, on
the plan of ``aggregate_query.py``) and the streaming execution engine (``engine/``).

Nothing is imported here: the engine must start fast, and the conversion backends pull in the official
pySigma backends. pySigma's autodiscovery finds the backends through ``sigma.backends.okta_targets``
(``registry/``).
"""
