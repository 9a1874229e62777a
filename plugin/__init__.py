"""sigma-okta's Sigma plugin: the `aggregate` correlation extension (rule model, condition language,
loader) and the Okta field-mapping processing pipelines.

pySigma's autodiscovery imports this package and reads the ``pipelines`` mapping below; ``__all__``
keeps it from registering anything else as a pipeline. Only the pipeline factories are imported here
(schema data and pySigma's processing classes), not the loader or the correlation model.
"""

from .okta_pipelines import (
    okta_elastic_pipeline,
    okta_ocsf_pipeline,
    okta_sentinel_legacy_pipeline,
    okta_sentinel_pipeline,
    okta_splunk_ta_pipeline,
)

pipelines = {
    "okta_splunk_ta": okta_splunk_ta_pipeline,
    "okta_elastic": okta_elastic_pipeline,
    "okta_sentinel": okta_sentinel_pipeline,
    "okta_sentinel_legacy": okta_sentinel_legacy_pipeline,
    "okta_ocsf": okta_ocsf_pipeline,
}

__all__ = ["pipelines"]
