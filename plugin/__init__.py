"""sigma-okta's Sigma plugin: the `aggregate` correlation extension (rule model, condition language,
loader) and the Okta field-mapping processing pipelines.

pySigma's autodiscovery imports this package and reads the ``pipelines`` mapping below; ``__all__``
keeps it from registering anything else as a pipeline.
"""

pipelines: dict = {}

__all__ = ["pipelines"]
