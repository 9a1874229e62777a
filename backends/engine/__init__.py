"""The execution engine: evaluates Sigma rules and `aggregate` correlations on Okta System Log streams.

Its modules, in the order an event meets them (``runner`` compiles a pack once and drives the rest):

- ``sources``: inputs (files by byte range, ``.gz``, folders, stdin) and their bytes in chunks of lines;
- ``documents``: JSON-document inputs (arrays, pretty-printed objects) element by element;
- ``prefilter_clauses``: the literals every matching line must contain, derived from the rules;
- ``prefilter``: the scan for them over raw bytes (Hyperscan, or pure Python), before decoding;
- ``decoding`` / ``projection``: a line to an event, whole (orjson) or only the fields read (msgspec);
- ``matcher``, ``fields``: Sigma detections compiled into predicates over dotted field paths;
- ``timestamps``: event time;
- ``correlation``, ``accumulators``: windows, collapse keys and mergeable per-group state;
- ``evaluate``: the condition and derived values, compiled once per rule;
- ``alerts``: alert records and where they are written;
- ``parallel``: one worker per core over byte ranges, merged exactly;
- ``input_report``: bad input counted by reason.

The engine imports nothing of the conversion targets, the generator or the command line.
"""
