"""sigma-okta's Sigma plugin: the `aggregate` correlation extension (rule model, condition language,
loader) and the Okta field-mapping processing pipelines.

pySigma's autodiscovery imports this package and reads the ``pipelines`` mapping below; ``__all__``
keeps it from registering anything else as a pipeline. The pipelines are built on first use, so that
importing the rule model (which every engine run does) does not import pySigma's processing machinery.
"""

from collections.abc import Callable
from typing import Any

PIPELINE_IDS = ("okta_splunk_ta", "okta_elastic", "okta_sentinel", "okta_sentinel_legacy", "okta_ocsf")


def _pipeline_factory(pipeline_id: str) -> Callable[[], Any]:
    def factory() -> Any:
        from . import okta_pipelines

        return okta_pipelines.okta_pipeline(pipeline_id)

    factory.__name__ = factory.__qualname__ = f"{pipeline_id}_pipeline"
    factory.__doc__ = f"The {pipeline_id} processing pipeline (see docs/field-mappings.md)."
    return factory


pipelines = {pipeline_id: _pipeline_factory(pipeline_id) for pipeline_id in PIPELINE_IDS}

__all__ = ["pipelines"]
