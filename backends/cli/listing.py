"""``sigma-okta list targets|pipelines``."""

from __future__ import annotations

import argparse

from .output import EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser("list", help="list conversion targets or processing pipelines")
    listing.add_argument("what", choices=("targets", "pipelines"))
    listing.set_defaults(handler=_list)


def _list(arguments: argparse.Namespace) -> int:
    from sigma.pipelines.okta import pipelines
    from sigma.pipelines.okta.okta_schemas import get_schema

    from ..targets.catalog import TARGETS

    if arguments.what == "targets":
        for target in TARGETS.values():
            supported = ", ".join(target.pipelines) or "none needed (raw System Log JSON)"
            print(f"{target.name:8} {target.language:36} pipelines: {supported}")
    else:
        for name in pipelines:
            schema = get_schema(name)
            print(f"{name:22} {schema.title}  [{schema.table_or_index}, time: {schema.time_field}]")
    return EXIT_OK
