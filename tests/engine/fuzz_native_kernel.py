"""Fuzz the native projection kernel's entry point with atheris (libFuzzer), for a bounded time.

Each input is scanned as a chunk of lines (every line, and again as candidate spans) with the bundled
pack's shape; every line the kernel projects must be one orjson accepts as it is and msgspec's typed
decode turns into the very same dict, and the event-time reader must agree with timestamps.py. A
crash, a sanitizer report or a disagreement stops the run with the input saved by libFuzzer.

    python tests/engine/fuzz_native_kernel.py -max_total_time=30 [CORPUS_DIR ...]
    python tests/engine/fuzz_native_kernel.py --seed-corpus DIR   # real-format lines to start from

The kernel is C built without libFuzzer's coverage hooks (gcc has none), so the search is guided only
by the checking function's coverage: mostly it mutates the seed corpus; ``make fuzz`` gives it generated Okta
events. ``tests/engine/test_native_kernel.py`` runs it for a few seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path


def seed_corpus(folder: Path) -> None:
    """Write generated Okta lines (with escapes) and a few hard cases, one file each, into ``folder``."""
    from sigma.backends.okta.generator import GeneratorConfig, write_dataset

    folder.mkdir(parents=True, exist_ok=True)
    events = folder / "events.jsonl.tmp"
    write_dataset(GeneratorConfig(seed=9, sessions_per_label=1, escape_share=0.3), events, None)
    lines = events.read_bytes().splitlines()
    events.unlink()
    for index, line in enumerate(lines[::20]):
        (folder / f"line-{index:04d}").write_bytes(line)
    (folder / "two-lines").write_bytes(lines[0] + b"\n" + lines[1] + b"\r\n")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--seed-corpus":
        seed_corpus(Path(sys.argv[2]))
        return
    import atheris

    # not instrumented: atheris cannot rewrite every module of the engine (a SyntaxError in its
    # bytecode rewriting on parallel.py), and the code under test is C anyway
    import orjson

    from sigma.backends.okta.engine import native_projection
    from sigma.backends.okta.engine.decoding import decode_line
    from sigma.backends.okta.engine.projection import EventProjection
    from sigma.backends.okta.engine.runner import pack_fields
    from sigma.backends.okta.engine.timestamps import compile_time_getter
    from sigma.pipelines.okta.loader import load_bundled

    if not native_projection.kernel_available():
        raise SystemExit("the native kernel is not built")
    fields = pack_fields(load_bundled(), "published")
    projection = EventProjection(fields, fields)
    kernel = native_projection.NativeProjection(projection)
    python_time = compile_time_getter("published")
    native_time = native_projection.native_time_getter("published", python_time)

    @atheris.instrument_func
    def one_input(data: bytes) -> None:
        results = list(kernel.scan(data))
        assert list(kernel.scan(data, [(start, end) for start, end, _ in results])) == results
        for start, end, event in results:
            line = data[start:end]
            if event is None:
                continue
            try:
                expected = projection.decoder.decode(line)
            except Exception as error:
                raise AssertionError(f"the kernel took a line the typed decode refuses: {line!r}") from error
            assert repr(event) == repr(expected), line
            whole, reason = decode_line(line)
            assert reason is None and type(whole) is dict, line
            assert orjson.loads(line) == whole
            assert native_time(event) == python_time(event), line

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
