"""Export stage: formats registry, `ExportConfig`, `export(config) -> ExportResult`, manifest, verification.

Example:

>>> from edgedigits.export import ExportConfig, export
>>> result = export(ExportConfig(run="runs/edge"), progress=print)   # doctest: +SKIP
>>> result.raise_for_errors()                                        # doctest: +SKIP
"""

from edgedigits.export.api import export
from edgedigits.export.config import ExportConfig
from edgedigits.export.formats import DEFAULT_FORMATS, FORMATS, ExportFormat, get_format, list_formats, parse_formats
from edgedigits.export.results import ExportResult, ExportRow

__all__ = ["export", "ExportConfig", "ExportResult", "ExportRow", "ExportFormat", "FORMATS", "DEFAULT_FORMATS",
           "get_format", "list_formats", "parse_formats"]
