#!/usr/bin/env bash
# Sourced by scripts/test.sh: installs (as root, from Debian's packages) and starts what the tests need:
# a throwaway PostgreSQL cluster on loopback and Debian's Chromium. Sets USMCA_TEST_PG_URL and a trap that
# stops the cluster when the test run ends.
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need[*]} ..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "warning: ${need[*]} missing and not root: the tests that need them will be skipped" >&2
  fi
fi

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -n "$PGBIN" ] && [ -z "${USMCA_TEST_PG_URL:-}" ]; then
  PGDIR=$(mktemp -d /tmp/usmca-pg.XXXXXX)
  PGPORT=${USMCA_TEST_PG_PORT:-54329}
  as_pg=()
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDIR"; as_pg=(runuser -u postgres --); fi
  "${as_pg[@]}" "$PGBIN/initdb" -D "$PGDIR" -U postgres --auth=trust -E UTF8 >/dev/null
  if "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGDIR" -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1" \
      -l "$PGDIR/log" -w start >/dev/null; then
    export USMCA_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"
    stop_pg() { "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGDIR" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
    trap stop_pg EXIT
  else
    echo "warning: PostgreSQL did not start (see $PGDIR/log): PostgreSQL tests will be skipped" >&2
  fi
fi
