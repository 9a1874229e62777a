"""``sigma-okta list targets|pipelines``: a table on a terminal, or --format csv|json."""

from __future__ import annotations

import argparse

from .output import EXIT_OK
from .tables import ROW_FORMATS, default_format, render_rows


def register(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser("list", help="list conversion targets or processing pipelines")
    listing.add_argument("what", choices=("targets", "pipelines"))
    listing.add_argument(
        "--format",
        choices=ROW_FORMATS,
        help="table (default on a terminal), csv, or json (default otherwise)",
    )
    listing.set_defaults(handler=_list)


def _list(arguments: argparse.Namespace) -> int:
    from sigma.pipelines.okta import pipelines
    from sigma.pipelines.okta.okta_schemas import get_schema

    from ..targets.catalog import TARGETS

    if arguments.what == "targets":
        columns = ["target", "language", "pipelines"]
        rows = [
            {
                "target": target.name,
                "language": target.language,
                "pipelines": ", ".join(target.pipelines) or "none needed (raw System Log JSON)",
            }
            for target in TARGETS.values()
        ]
    else:
        columns = ["pipeline", "schema", "table or index", "time field"]
        rows = []
        for name in pipelines:
            schema = get_schema(name)
            rows.append(
                {
                    "pipeline": name,
                    "schema": schema.title,
                    "table or index": schema.table_or_index,
                    "time field": schema.time_field,
                }
            )
    print(render_rows(arguments.format or default_format(), columns, rows), end="")
    return EXIT_OK
