"""SQL of the standard correlations that a plain ``GROUP BY`` does not compute: percentiles
(value_percentile, value_median), the order of the referenced rules (temporal_ordered) and sliding
windows (the rule's ``window: sliding``), for DuckDB and Spark.

Each follows the engine's definition exactly (docs/semantics.md):

- a **percentile** is interpolated from the sorted numbers with the formula of
  :func:`sigma.pipelines.okta.semantics.interpolated_percentile`, written out (not the engines'
  ``quantile_cont``/``percentile``, whose arithmetic may differ in the last bit);
- **rule order** is the greedy earliest-first match, one join per referenced rule: step k is the
  earliest event of rule k strictly later than step k-1's, within the window (or the frame);
- a **sliding** frame is ``RANGE BETWEEN timespan - 1µs PRECEDING AND CURRENT ROW`` over the epoch
  microseconds, one evaluation point per distinct event time of a group; a point alerts when its
  condition holds and that of the group's previous point (less than ``timespan`` before) did not.

Only what the standard types produce is rendered here: no collapse, no derived values, no output
fields, metrics of kinds count, distinct, sum, avg, percentile and in_order; anything else is refused
by name.
"""

from __future__ import annotations

from sigma.pipelines.okta.model import MetricKind, WindowKind

from .aggregate_plan import AggregateConversionError, MetricPlan
from .sql import US, SparkDialect, _AggregateSql

_KINDS = frozenset(
    {
        MetricKind.COUNT,
        MetricKind.DISTINCT,
        MetricKind.SUM,
        MetricKind.AVG,
        MetricKind.MIN,
        MetricKind.MAX,
        MetricKind.PERCENTILE,
        MetricKind.IN_ORDER,
    }
)


class _Lists:
    """List functions, DuckDB's spelling (1-based indexes)."""

    def numbers(self, value: str, over: str = "") -> str:
        """The sorted non-null numbers of an aggregated column (in a window frame with ``over``)."""
        return f"list_sort(list_filter(coalesce(list({value}){over}, []), lambda okta_n: okta_n IS NOT NULL))"

    def texts(self, value: str, over: str) -> str:
        """The sorted distinct non-null texts of a column in a window frame."""
        return f"list_sort(list_distinct(coalesce(list({value}){over}, [])))"

    def size(self, items: str) -> str:
        return f"len({items})"

    def at(self, items: str, index: str) -> str:
        return f"list_extract({items}, {index})"

    def floor(self, value: str) -> str:
        return f"CAST(floor({value}) AS BIGINT)"


class _SparkLists(_Lists):
    def numbers(self, value: str, over: str = "") -> str:
        return f"array_sort(collect_list({value}){over})"  # collect_list leaves nulls out

    def texts(self, value: str, over: str) -> str:
        return f"array_sort(collect_set({value}){over})"

    def size(self, items: str) -> str:
        return f"size({items})"

    def at(self, items: str, index: str) -> str:
        return f"element_at({items}, CAST({index} AS INT))"

    def floor(self, value: str) -> str:
        return f"floor({value})"


class RankingSql(_AggregateSql):
    """Renders a standard correlation with percentiles, rule order or a sliding window."""

    def __init__(self, *arguments, **options):
        super().__init__(*arguments, **options)
        self.lists = _SparkLists() if isinstance(self.d, SparkDialect) else _Lists()
        self.sliding = self.rule.window is WindowKind.SLIDING
        q = self.q
        for metric in q.all_metrics:
            if metric.kind not in _KINDS:
                raise self.refuse(
                    f"metric type {metric.kind.value} with a percentile, order or sliding window"
                )
        if q.collapse is not None or q.derived or q.outputs:
            raise self.refuse(
                "a collapse, derived values or output fields with a percentile or sliding window"
            )

    def refuse(self, construct: str) -> AggregateConversionError:
        return AggregateConversionError(construct, self.q.target, source=self.rule.source)

    @property
    def span_us(self) -> int:
        return self.q.timespan_seconds * US

    # -- keys ------------------------------------------------------------------------------------------

    def group_values(self) -> list[str]:
        d = self.d
        return [f"coalesce({self.col(ref.single)}, {d.string(self.q.null_text)})" for ref in self.q.group_by]

    def keys(self) -> list[str]:
        """The key columns of a group: ``okta_key_<i>``, then the window number (tumbling only)."""
        names = [f"okta_key_{index}" for index in range(len(self.q.group_by))]
        return names if self.sliding else ["window_number", *names]

    # -- statements ------------------------------------------------------------------------------------

    def statements(self) -> list[str]:
        q, d = self.q, self.d
        ctes = self.event_ctes()
        keyed = [f"{value} AS okta_key_{index}" for index, value in enumerate(self.group_values())]
        window = "" if self.sliding else f", {d.floor_div('event_us', self.span_us)} AS window_number"
        ctes.append(
            "keyed AS (\n  SELECT *"
            + "".join(f", {column}" for column in keyed)
            + f"{window}\n  FROM filtered\n)"
        )
        ctes.append(self.frames_cte())
        ctes.extend(self.order_ctes())
        ctes.append(self.ranked_cte())
        ctes.append(
            f"evaluated AS (\n  SELECT *,\n    coalesce({d.condition(q.condition)}, false) AS holds\n  FROM ranked\n)"
        )
        if self.sliding:
            partition = ", ".join(self.keys()) or "1"
            order = f"OVER (PARTITION BY {partition} ORDER BY event_us)"
            ctes.append(
                "runs AS (\n  SELECT *,\n"
                f"    holds AND NOT coalesce(lag(holds) {order} AND "
                f"lag(event_us) {order} > event_us - {self.span_us}, false) AS condition\n"
                "  FROM evaluated\n)"
            )
            start = f"event_us - {self.span_us - 1}"
            end = "event_us + 1"
            last, sort = "runs", "event_us"
        else:
            ctes.append("runs AS (\n  SELECT *, holds AS condition\n  FROM evaluated\n)")
            start = f"window_number * {self.span_us}"
            end = f"(window_number + 1) * {self.span_us}"
            last, sort = "runs", "window_number"
        output = [
            f"{self.time(start)} AS window_start",
            f"{self.time(end)} AS window_end",
            *[f"okta_key_{index} AS {self.col(ref.name)}" for index, ref in enumerate(q.group_by)],
            f"{self.time('first_us')} AS first_seen",
            *[self.col(metric.name) for metric in q.metrics],
            "event_ids",
            "condition",
        ]
        select = "SELECT\n  " + ",\n  ".join(output) + f"\nFROM {last}"
        if not self.every_group:
            select += "\nWHERE condition"
        groups = [f"okta_key_{index}" for index in range(len(q.group_by))]
        select += "\nORDER BY " + ", ".join([sort, *groups] if groups else [sort, "first_us"])
        return [
            *d.prelude(self.events.top_level, self.events.path),
            "WITH " + ",\n".join(ctes) + "\n" + select,
        ]

    # -- stage 5: one row per window and group, or per evaluation point --------------------------------

    def frames_cte(self) -> str:
        """Per group and window (tumbling) or per point (sliding): every metric that an aggregate
        computes, the sorted numbers of each percentile (``okta_numbers_<i>``), first time and ids."""
        q, lists = self.q, self.lists
        columns = []
        for index, metric in enumerate(q.metrics):
            if metric.kind is MetricKind.IN_ORDER:
                continue  # the joins of order_ctes
            if metric.kind is MetricKind.PERCENTILE:
                columns.append(
                    f"{lists.numbers(self.filtered(metric, self.number(metric)), self.over)} AS okta_numbers_{index}"
                )
            else:
                columns.append(f"{self.aggregate(metric)} AS {self.col(metric.name)}")
        uuid = self.col("uuid")
        if self.sliding:
            columns.append(f"min(event_us){self.over} AS first_us")
            columns.append(f"{lists.texts(uuid, self.over)} AS event_ids")
            # one row per point: the peers of a RANGE frame (equal times) share every value
            partition = ", ".join([*self.keys(), "event_us"])
            columns.append(f"row_number() OVER (PARTITION BY {partition} ORDER BY event_us) AS okta_peer")
            keys = ", ".join([*self.keys(), "event_us"])
            frame_partition = ", ".join(self.keys()) or "1"
            return (
                f"framed AS (\n  SELECT {keys},\n    " + ",\n    ".join(columns) + "\n  FROM keyed\n"
                f"  WINDOW okta_frame AS (PARTITION BY {frame_partition} ORDER BY event_us "
                f"RANGE BETWEEN {self.span_us - 1} PRECEDING AND CURRENT ROW)\n),\n"
                "frames AS (\n  SELECT * FROM framed WHERE okta_peer = 1\n)"
            )
        columns.append("min(event_us) AS first_us")
        columns.append(f"{self.d.sorted_texts(uuid, None)} AS event_ids")
        keys = ", ".join(self.keys())
        return (
            f"frames AS (\n  SELECT {keys},\n    "
            + ",\n    ".join(columns)
            + f"\n  FROM keyed\n  GROUP BY {keys}\n)"
        )

    @property
    def over(self) -> str:
        return " OVER okta_frame" if self.sliding else ""

    def number(self, metric: MetricPlan) -> str:
        return self.d.number_of(self.col(metric.field.single))

    def filtered(self, metric: MetricPlan, value: str) -> str:
        """``value`` on the rows a metric reads, NULL elsewhere (window aggregates take no FILTER)."""
        flag = self.q.flag_of(metric)
        return value if flag is None else f"CASE WHEN {flag} THEN {value} END"

    def aggregate(self, metric: MetricPlan) -> str:
        d, over = self.d, self.over
        match metric.kind:
            case MetricKind.COUNT:
                return f"count({self.filtered(metric, '1')}){over}"
            case MetricKind.DISTINCT:
                texts = self.lists.texts(self.filtered(metric, self.col(metric.field.single)), over)
                if not self.sliding:
                    return f"count(DISTINCT {self.filtered(metric, self.col(metric.field.single))})"
                return self.lists.size(texts)
            case MetricKind.SUM:
                return d.finite(f"sum({self.filtered(metric, self.number(metric))}){over}")
            case MetricKind.AVG:
                return d.finite(f"avg({self.filtered(metric, self.number(metric))}){over}")
            case MetricKind.MIN | MetricKind.MAX:
                return f"{metric.kind.value}({self.filtered(metric, self.number(metric))}){over}"
        raise self.refuse(f"metric type {metric.kind.value}")  # pragma: no cover - checked at construction

    # -- rule order: the greedy earliest-first match, one step per referenced rule ----------------------

    def order_ctes(self) -> list[str]:
        if not any(metric.kind is MetricKind.IN_ORDER for metric in self.q.metrics):
            return []
        keys = self.keys()
        ctes = []
        for step, flag in enumerate(self.q.rule_flags):
            if self.sliding:
                # per point p of frames: events in (p - timespan, p]
                previous = "frames" if step == 0 else f"okta_step_{step - 1}"
                point = "p.event_us" if step == 0 else "p.point_us"
                after = f"p.event_us - {self.span_us}" if step == 0 else "p.t"
                joined = " AND ".join(
                    [
                        *(f"e.{key} = p.{key}" for key in keys),
                        f"e.event_us > {after}",
                        f"e.event_us <= {point}",
                    ]
                )
                select_keys = ", ".join([*(f"p.{key}" for key in keys), f"{point} AS point_us"])
                group_keys = ", ".join([*(f"p.{key}" for key in keys), point])
            else:
                previous = None if step == 0 else f"okta_step_{step - 1}"
                joined = " AND ".join([*(f"e.{key} = p.{key}" for key in keys), "e.event_us > p.t"])
                select_keys = ", ".join(f"e.{key}" for key in keys)
                group_keys = select_keys
            source = "keyed e" if previous is None else f"keyed e JOIN {previous} p ON {joined}"
            ctes.append(
                f"okta_step_{step} AS (\n  SELECT {select_keys}, min(e.event_us) AS t\n"
                f"  FROM {source}\n  WHERE e.{flag}\n  GROUP BY {group_keys}\n)"
            )
        return ctes

    def ranked_cte(self) -> str:
        """The frames with each percentile interpolated and the rules in order counted."""
        q = self.q
        columns = ["f.*"]
        joins = []
        for index, metric in enumerate(q.metrics):
            if metric.kind is MetricKind.PERCENTILE:
                columns.append(
                    f"{self.interpolated(f'f.okta_numbers_{index}', metric)} AS {self.col(metric.name)}"
                )
            elif metric.kind is MetricKind.IN_ORDER:
                steps = len(q.rule_flags)
                cases = " ".join(
                    f"WHEN s{step}.t IS NOT NULL THEN {step + 1}" for step in reversed(range(steps))
                )
                columns.append(f"CASE {cases} ELSE 0 END AS {self.col(metric.name)}")
                for step in range(steps):
                    on = [f"s{step}.{key} = f.{key}" for key in self.keys()]
                    if self.sliding:
                        on.append(f"s{step}.point_us = f.event_us")
                    joins.append(f"LEFT JOIN okta_step_{step} s{step} ON " + (" AND ".join(on) or "true"))
        return (
            "ranked AS (\n  SELECT "
            + ", ".join(columns)
            + "\n  FROM frames f"
            + "".join(f"\n  {j}" for j in joins)
            + "\n)"
        )

    def interpolated(self, numbers: str, metric: MetricPlan) -> str:
        """semantics.interpolated_percentile over a sorted list: x[l] when h == l, else
        x[l] + (h - l) * (x[l + 1] - x[l]) with h = (n - 1) * (P / 100), l = floor(h)."""
        lists = self.lists
        fraction = repr(self.percentile_of(metric) / 100)
        n = lists.size(numbers)
        rank = f"(CAST({n} - 1 AS DOUBLE) * CAST({fraction} AS DOUBLE))"
        low = lists.floor(rank)
        at_low = lists.at(numbers, f"{low} + 1")
        at_high = lists.at(numbers, f"{low} + 2")
        return (
            f"CASE WHEN {n} = 0 THEN NULL WHEN {rank} = {low} THEN {at_low} "
            f"ELSE {at_low} + ({rank} - {low}) * ({at_high} - {at_low}) END"
        )

    def percentile_of(self, metric: MetricPlan) -> float:
        return next(m.percentile for m in self.rule.metrics if m.name == metric.name)
