"""The `aggregate` document schema is a valid JSON Schema (checked here once, not on every run) and the
documents' validator is built once per process."""

from __future__ import annotations

import jsonschema
import pytest

from sigma.pipelines.okta.aggregate_parser import aggregate_schema, schema_validator


def test_the_aggregate_schema_is_valid_under_its_metaschema():
    schema = aggregate_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    assert validator_class is jsonschema.Draft202012Validator  # the draft the schema names
    validator_class.check_schema(schema)


def test_a_broken_schema_would_be_caught():
    with pytest.raises(jsonschema.SchemaError):
        jsonschema.Draft202012Validator.check_schema({**aggregate_schema(), "type": "no such type"})


def test_the_validator_is_built_once_and_checks_formats():
    assert schema_validator() is schema_validator()
    assert schema_validator().format_checker is not None
