#!/bin/sh
# The scheduled job, the one command every recipe runs (cron, GitHub Actions):
# an incremental `calendly-elt run` (extract, load, build the models) that
# prints nothing when all is well, and one `error: ...` line and a non-zero
# exit when not (2 configuration, 3 another run holds the lock, 4 records
# quarantined). tests/test_recipes.py runs this very file against the simulator.
#
# Run it from the folder that holds the warehouse and .dlt/ (cron: `cd` first;
# Actions: the checkout). Settings and secrets come from the environment
# (CALENDLY_ACCESS_TOKEN, DESTINATION__POSTGRES__CREDENTIALS...) or from
# .dlt/config.toml and .dlt/secrets.toml in that folder. Extra arguments are
# passed on (e.g. `--destination postgres`, `--duckdb PATH`).
#
# CALENDLY_ELT_BIN: the calendly-elt to run; default .venv/bin/calendly-elt
# in the working folder if there is one, else calendly-elt on PATH.
set -eu
if [ -z "${CALENDLY_ELT_BIN:-}" ]; then
  if [ -x .venv/bin/calendly-elt ]; then CALENDLY_ELT_BIN=.venv/bin/calendly-elt; else CALENDLY_ELT_BIN=calendly-elt; fi
fi
exec "$CALENDLY_ELT_BIN" --quiet run "$@"
