# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exploring the Calendly metrics
#
# The charts of the marts in `calendly_analytics`, drawn by the project's own
# chart code (`calendly_elt.models.charts`, the same figures as
# `calendly-elt report --html FILE`), read from the DuckDB file that
# `calendly-elt run` or `calendly-elt demo` (`./dev demo`) wrote.
#
# - The file: `CALENDLY_ELT_DUCKDB` if set, else `calendly_warehouse.duckdb`
#   (the default of `run` and `demo`) in the working directory or the one above
#   it (Jupyter starts in `notebooks/`).
# - The file is opened read-only; close the notebook's kernel before a run
#   writes to it.
# - This file is the notebook in jupytext's percent format: open it in Jupyter
#   with jupytext installed (`pip install -e '.[dev]'`), or make an `.ipynb`
#   with `jupytext --to ipynb notebooks/explore_metrics.py`.

# %%
# %matplotlib inline
import os
from pathlib import Path

import pandas as pd

from calendly_elt.calendly.settings import DEFAULT_DUCKDB_FILE
from calendly_elt.models import charts
from calendly_elt.models.html_report import header_lines
from calendly_elt.models.report_context import report_context
from calendly_elt.models.report import render_report
from calendly_elt.runner import make_pipeline

pd.set_option("display.width", 160)


def warehouse_file() -> Path:
    """The DuckDB file to read: $CALENDLY_ELT_DUCKDB, else the default file here or one up."""
    if os.environ.get("CALENDLY_ELT_DUCKDB"):
        return Path(os.environ["CALENDLY_ELT_DUCKDB"])
    candidates = [Path(DEFAULT_DUCKDB_FILE), Path("..") / DEFAULT_DUCKDB_FILE]
    return next((path for path in candidates if path.exists()), candidates[0])


DUCKDB = warehouse_file()
if not DUCKDB.exists():
    raise FileNotFoundError(
        f"no DuckDB warehouse at {DUCKDB.resolve()}: run `./dev demo` (or `calendly-elt run`)"
        " first, or set CALENDLY_ELT_DUCKDB to the file"
    )
pipeline = make_pipeline(duckdb_path=DUCKDB, read_only=True)
data = charts.read_chart_data(pipeline)
pd.DataFrame(header_lines(report_context(pipeline)), columns=["", str(DUCKDB)]).set_index("")

# %% [markdown]
# ## Show rate by first-touch UTM source and campaign
#
# `show_rate = completed / held` (held = completed + no-shows), from
# `metrics_utm_attribution`; n is the number of held meetings.

# %%
charts.show_rate_by_utm(data)

# %%
data.utm.sort_values("bookings", ascending=False).head(10)

# %% [markdown]
# ## Bookings and cancellations over time
#
# By the week (`metrics_weekly`) and the month (`metrics_cancellations`) of the
# meeting's start, UTC. Recent weeks are mostly upcoming meetings.

# %%
charts.bookings_over_time(data)

# %% [markdown]
# ## No-show rate by event type and by host

# %%
charts.no_show_rate_by_event_type(data)

# %%
charts.no_show_rate_by_host(data)

# %% [markdown]
# ## Cancellation lead time
#
# Hours from the cancellation to the meeting's start (`fct_bookings.cancel_lead_hours`);
# a cancellation under 24 h is late.

# %%
charts.cancellation_lead_time(data)

# %% [markdown]
# ## Popular times
#
# Bookings by weekday and hour of the start in the host's time zone
# (`metrics_popular_times`; UTC when the host's zone is unknown).

# %%
charts.popular_times_heatmap(data)

# %% [markdown]
# ## Routing form funnel
#
# Submissions -> booked -> held, per form (`metrics_routing_funnel`, the
# `(all)`/`(all)` rows); the other rows break each form down by answer.

# %%
charts.routing_funnel(data)

# %%
data.routing_funnel.sort_values(["routing_form_uri", "question", "submissions"]).head(12)

# %% [markdown]
# ## The terminal report (`calendly-elt report`)

# %%
print(render_report(pipeline))
