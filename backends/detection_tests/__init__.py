"""Detection tests: ``*.tests.yaml`` files beside the rules, run on every engine (``sigma-okta test``).

In the order a test goes through them:

- ``model``: what a tests file says (tests, events, expectations) as dataclasses with their locations;
- ``parser``: YAML to the model, and references checked against the rule pack, with ``file:line:column``;
- ``events``: partial LogEvents completed from a template, event files and generated scenarios, as
  one NDJSON file per test;
- ``engines``: the pack run on those events by the Python engine, DuckDB or Spark;
- ``checks``: each expectation against what an engine reported, with the reason when it fails;
- ``explain``: a group's condition clause by clause, an event's detection items one by one (also
  ``sigma-okta explain``);
- ``runner``: finding rules and tests, running them, comparing the engines;
- ``reports``: text, JUnit XML, SARIF 2.1.0 and JSON.

The format is documented in ``docs/testing.md``.
"""
