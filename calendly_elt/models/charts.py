"""The charts of the marts, for the notebook and ``calendly-elt report --html``.

:func:`read_chart_data` reads the marts once (one connection, any dlt SQL
destination); every chart function takes that :class:`ChartData` and returns
a matplotlib ``Figure``. A chart whose mart has no rows draws a "no data" note
instead of failing. :data:`CHARTS` lists them all, in the order a page shows
them, each with a stable id (the HTML report's element ids).

The figures are made with ``Figure()``, not ``pyplot``: no display and no
global backend are needed (saving uses matplotlib's Agg renderer), nothing is
kept in pyplot's figure registry, and importing this module leaves a
notebook's backend alone. In a notebook a returned ``Figure`` shows as an image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from calendly_elt.models.errors import MartsMissingError
from calendly_elt.models.runner import (
    analytics_schema_of,
    render_target_for,
    warehouse_client,
)
from calendly_elt.models.transpile import render_sql

TOP = 12  # bars per ranking chart (sources, campaigns, hosts)
LATE_HOURS = 24  # a cancellation with a lead under 24 h is late (docs/metrics.md)
# cancellation lead-time buckets: (label, upper bound in hours, exclusive)
LEAD_BUCKETS: tuple[tuple[str, float], ...] = (
    ("after start", 0),
    ("< 1 h", 1),
    ("1-24 h", 24),
    ("1-3 d", 72),
    ("3-7 d", 168),
    ("1-2 wk", 336),
    ("2-4 wk", 672),
    ("> 4 wk", float("inf")),
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LATE_COLOUR = "#c0392b"
COLOURS = ("#2e86c1", "#f39c12", "#27ae60", "#8e44ad")

# every mart a chart reads, by the name ChartData calls it
_QUERIES = {
    "utm": "select * from {{ ref('metrics_utm_attribution') }}",
    "weekly": "select * from {{ ref('metrics_weekly') }}",
    "monthly": "select * from {{ ref('metrics_cancellations') }}",
    "no_shows": "select * from {{ ref('metrics_no_shows') }}",
    "hosts": "select * from {{ ref('metrics_hosts') }}",
    "popular_times": "select * from {{ ref('metrics_popular_times') }}",
    "routing_funnel": "select * from {{ ref('metrics_routing_funnel') }}",
    "cancellations": (
        "select cancel_lead_hours from {{ ref('fct_bookings') }}"
        " where outcome = 'canceled' and cancel_lead_hours is not null"
    ),
}


@dataclass(frozen=True)
class ChartData:
    """The marts the charts draw, one DataFrame each (see ``_QUERIES``)."""

    utm: pd.DataFrame
    weekly: pd.DataFrame
    monthly: pd.DataFrame
    no_shows: pd.DataFrame
    hosts: pd.DataFrame
    popular_times: pd.DataFrame
    routing_funnel: pd.DataFrame
    cancellations: pd.DataFrame


def read_chart_data(pipeline: Any) -> ChartData:
    """Read every mart the charts draw from ``pipeline``'s analytics schema.

    Args:
        pipeline: the dlt pipeline whose destination holds the built marts.

    Returns:
        The marts as DataFrames.

    Raises:
        MartsMissingError: the marts have not been built yet.
    """
    schema = analytics_schema_of(pipeline)
    with warehouse_client(pipeline) as client:
        target = render_target_for(client, schema)
        try:
            frames = {
                name: _frame(client, render_sql(sql, target)) for name, sql in _QUERIES.items()
            }
        except DatabaseUndefinedRelation as error:
            raise MartsMissingError(
                f"no marts in {schema} yet: run `calendly-elt run` or `calendly-elt models` first"
            ) from error
    return ChartData(**frames)


def _frame(client: Any, sql: str) -> pd.DataFrame:
    with client.execute_query(sql) as cursor:
        columns = [column[0] for column in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def _figure(
    panels: int = 1, *, width: float = 10, height: float = 4.5
) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(1, panels, squeeze=False)[0]
    return figure, list(axes)


def _no_data(axes: Axes, what: str) -> None:
    """Say plainly on ``axes`` that there is nothing to draw."""
    axes.set_axis_off()
    axes.text(0.5, 0.5, f"no data: {what}", ha="center", va="center", transform=axes.transAxes)


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``numerator / denominator``, NaN where the denominator is 0 (rates are NULL there)."""
    return numerator.astype(float) / denominator.astype(float).where(denominator > 0)


def _show_rates(utm: pd.DataFrame, key: str) -> pd.DataFrame:
    grouped = utm.groupby(key, as_index=False)[["bookings", "completed", "no_shows"]].sum()
    grouped["held"] = grouped["completed"] + grouped["no_shows"]
    grouped["show_rate"] = _rate(grouped["completed"], grouped["held"])
    grouped = grouped[grouped["held"] > 0]
    return grouped.sort_values(["held", key], ascending=[False, True]).head(TOP)


def _rate_bars(axes: Axes, labels: pd.Series, rates: pd.Series, counts: pd.Series) -> None:
    """Horizontal bars of rates (in %), largest group on top, each labelled with its count."""
    positions = range(len(labels))
    axes.barh(positions, rates * 100, color=COLOURS[0])
    axes.set_yticks(list(positions), [str(label) for label in labels])
    axes.invert_yaxis()
    axes.set_xlim(0, 105)
    axes.set_xlabel("%")
    for position, rate, count in zip(positions, rates, counts, strict=True):
        axes.text(rate * 100 + 1, position, f"{rate:.0%} (n={count})", va="center", fontsize=8)


def show_rate_by_utm(data: ChartData) -> Figure:
    """Show rate (completed / held) by first-touch UTM source and by campaign."""
    figure, panels = _figure(2, width=12)
    figure.suptitle("Show rate by first-touch UTM source and campaign")
    for axes, key in zip(panels, ("utm_source", "utm_campaign"), strict=True):
        rates = _show_rates(data.utm, key) if not data.utm.empty else data.utm
        if rates.empty:
            _no_data(axes, "no held meetings with UTM attribution")
            continue
        _rate_bars(axes, rates[key], rates["show_rate"], rates["held"])
        axes.set_title(f"by {key} (top {TOP} by held meetings)")
    return figure


def bookings_over_time(data: ChartData) -> Figure:
    """Bookings and cancellations per week and per month of the meeting's start."""
    figure, panels = _figure(2, width=12)
    figure.suptitle("Bookings and cancellations over time (by the meeting's start, UTC)")
    series = (("week", data.weekly, "weekly"), ("month", data.monthly, "monthly"))
    for axes, (key, frame, label) in zip(panels, series, strict=True):
        if frame.empty:
            _no_data(axes, f"no bookings in the {label} mart")
            continue
        totals = frame.groupby(key)[["bookings", "canceled"]].sum().sort_index()
        moments = pd.to_datetime(totals.index)
        axes.plot(moments, totals["bookings"], color=COLOURS[0], label="bookings")
        axes.plot(moments, totals["canceled"], color=LATE_COLOUR, label="canceled")
        axes.set_title(label)
        axes.set_ylabel(f"bookings per {key}")
        axes.legend(loc="upper left")
        axes.tick_params(axis="x", labelrotation=30)
    return figure


def no_show_rate_by_event_type(data: ChartData) -> Figure:
    """No-show rate (no-shows / held) by event type, over all months."""
    figure, (axes,) = _figure()
    axes.set_title("No-show rate by event type")
    frame = data.no_shows
    totals = frame.groupby("event_type_name", as_index=False)[["held", "no_shows"]].sum()
    totals = totals[totals["held"] > 0].sort_values(["held", "event_type_name"], ascending=False)
    if totals.empty:
        _no_data(axes, "no held meetings")
        return figure
    _rate_bars(
        axes,
        totals["event_type_name"],
        _rate(totals["no_shows"], totals["held"]),
        totals["held"],
    )
    return figure


def no_show_rate_by_host(data: ChartData) -> Figure:
    """No-show rate by host (the meeting's first host), the hosts with most held meetings."""
    figure, (axes,) = _figure(height=5)
    axes.set_title(f"No-show rate by host (top {TOP} by held meetings)")
    hosts = data.hosts[data.hosts["held"] > 0] if not data.hosts.empty else data.hosts
    if hosts.empty:
        _no_data(axes, "no held meetings with a host")
        return figure
    hosts = hosts.sort_values(["held", "host_user_uri"], ascending=[False, True]).head(TOP)
    names = hosts["host_name"].fillna(hosts["host_email"]).fillna(hosts["host_user_uri"])
    _rate_bars(axes, names, _rate(hosts["no_shows"], hosts["held"]), hosts["held"])
    return figure


def lead_bucket(hours: float) -> str:
    """The :data:`LEAD_BUCKETS` label of a cancellation made ``hours`` before the start."""
    return next(label for label, upper in LEAD_BUCKETS if hours < upper)


def cancellation_lead_time(data: ChartData) -> Figure:
    """How long before the meeting cancellations come (late ones, < 24 h, in red)."""
    figure, (axes,) = _figure()
    axes.set_title("Cancellation lead time (cancellation -> meeting start)")
    leads = data.cancellations["cancel_lead_hours"].astype(float)
    if leads.empty:
        _no_data(axes, "no canceled bookings")
        return figure
    counts = leads.map(lead_bucket).value_counts()
    labels = [label for label, _ in LEAD_BUCKETS]
    heights = [int(counts.get(label, 0)) for label in labels]
    colours = [LATE_COLOUR if upper <= LATE_HOURS else COLOURS[0] for _, upper in LEAD_BUCKETS]
    axes.bar(labels, heights, color=colours)
    axes.set_ylabel("canceled bookings")
    axes.set_xlabel(f"lead time (red: late, under {LATE_HOURS} h; median {leads.median():.0f} h)")
    return figure


def popular_times_heatmap(data: ChartData) -> Figure:
    """Bookings by weekday and hour of the start, in the host's time zone."""
    figure, (axes,) = _figure(height=4)
    axes.set_title("Bookings by weekday and hour (host's time zone; UTC when unknown)")
    frame = data.popular_times
    if frame.empty:
        _no_data(axes, "no bookings")
        return figure
    grid = (
        frame.pivot_table(index="weekday", columns="hour", values="bookings", aggfunc="sum")
        .reindex(index=range(1, 8), columns=range(24))
        .fillna(0)
    )
    image = axes.imshow(grid.to_numpy(), aspect="auto", cmap="YlOrRd")
    axes.set_yticks(range(7), list(WEEKDAYS))
    axes.set_xticks(range(24), [str(hour) for hour in range(24)], fontsize=8)
    axes.set_xlabel("hour of the day")
    figure.colorbar(image, ax=axes, label="bookings")
    return figure


def routing_funnel(data: ChartData) -> Figure:
    """Routing forms: submissions -> bookings -> held meetings, one group of bars per form."""
    figure, (axes,) = _figure()
    axes.set_title("Routing form funnel: submissions -> booked -> held")
    frame = data.routing_funnel
    forms = frame[(frame["question"] == "(all)") & (frame["answer"] == "(all)")]
    if forms.empty:
        _no_data(axes, "no routing form submissions (needs routing_forms:read)")
        return figure
    forms = forms.sort_values(["submissions", "routing_form_uri"], ascending=[False, True])
    names = forms["routing_form_name"].fillna(forms["routing_form_uri"]).tolist()
    stages = ("submissions", "booked", "held")
    width = 0.8 / len(stages)
    for index, stage in enumerate(stages):
        positions = [form + index * width for form in range(len(names))]
        bars = axes.bar(positions, forms[stage], width, label=stage, color=COLOURS[index])
        axes.bar_label(bars, fontsize=8)
    axes.set_xticks([form + width for form in range(len(names))], names)
    axes.set_ylabel("submissions")
    axes.legend()
    return figure


@dataclass(frozen=True)
class Chart:
    """One chart: its stable id, its title, how to draw it."""

    chart_id: str
    title: str
    draw: Callable[[ChartData], Figure]


CHARTS: tuple[Chart, ...] = (
    Chart("show-rate-by-utm", "Show rate by UTM source and campaign", show_rate_by_utm),
    Chart("bookings-over-time", "Bookings and cancellations over time", bookings_over_time),
    Chart("no-show-rate-by-event-type", "No-show rate by event type", no_show_rate_by_event_type),
    Chart("no-show-rate-by-host", "No-show rate by host", no_show_rate_by_host),
    Chart("cancellation-lead-time", "Cancellation lead-time distribution", cancellation_lead_time),
    Chart("popular-times", "Bookings by weekday and hour", popular_times_heatmap),
    Chart("routing-funnel", "Routing form funnel", routing_funnel),
)
