#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for SiloMerge's tests, on a free loopback port.
#
#   eval "$(bash tools/pg-test-cluster.sh start)"   # sets SILOMERGE_TEST_PG, SILOMERGE_TEST_PG_CA, SILOMERGE_TEST_PG_DIR
#   swift test
#   bash tools/pg-test-cluster.sh stop "$SILOMERGE_TEST_PG_DIR"
#
# initdb and pg_ctl refuse to run as root: as root the cluster runs as the `postgres` system
# user (created when missing); otherwise as the calling user. The cluster lives in one folder
# under /tmp (data, socket, log, certificates) that `stop` removes.
#
# What the tests rely on:
# - superuser `silomerge` (trust over the socket and loopback), database `silomerge`;
# - TLS on, with a certificate for localhost / 127.0.0.1 / ::1 signed by the CA in
#   SILOMERGE_TEST_PG_CA;
# - members of role `silomerge_password` must log in with a SCRAM password over TCP;
# - members of role `silomerge_tls_only` are refused without TLS.
set -euo pipefail

die() { echo "pg-test-cluster: $*" >&2; exit 1; }

runas=()
as_owner() { "${runas[@]}" "$@"; }

case "${1:-}" in
start)
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || die "no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)"
  command -v openssl >/dev/null || die "openssl is needed to make the test certificates (apt-get install openssl)"
  dir=$(mktemp -d /tmp/silomerge-pg.XXXXXX)
  chmod 755 "$dir"
  # Whatever goes wrong from here, leave no cluster running and no folder behind.
  trap 'bash "$0" stop "$dir" >/dev/null 2>&1 || true' EXIT
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres "$dir"
    runas=(runuser -u postgres --)
  fi
  {
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U silomerge -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || die "initdb failed: $(tail -5 "$dir/initdb.log")"

    # Certificates: a CA, and a server certificate for the loopback names signed by it.
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=SiloMerge test CA" \
      -keyout "$dir/ca.key" -out "$dir/ca.crt" >/dev/null 2>&1 || die "openssl could not make the CA"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" \
      >/dev/null 2>&1 || die "openssl could not make the server key"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n' >"$dir/san.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
      -extfile "$dir/san.ext" -out "$dir/server.crt" >/dev/null 2>&1 || die "openssl could not sign the server certificate"
    chmod 644 "$dir/ca.crt" "$dir/server.crt"
    chmod 600 "$dir/server.key"
    [ ${#runas[@]} -eq 0 ] || chown postgres "$dir/server.key" "$dir/server.crt"

    cat >"$dir/data/pg_hba.conf" <<'EOF'
local     all all                               trust
hostnossl all +silomerge_tls_only 127.0.0.1/32 reject
hostnossl all +silomerge_tls_only ::1/128      reject
host      all +silomerge_password 127.0.0.1/32 scram-sha-256
host      all +silomerge_password ::1/128      scram-sha-256
host      all all                 127.0.0.1/32 trust
host      all all                 ::1/128      trust
EOF
    [ ${#runas[@]} -eq 0 ] || chown postgres "$dir/data/pg_hba.conf"

    # A free port: try a few random ones (pg_ctl fails when the port is taken).
    started=""
    for _ in 1 2 3 4 5 6 7 8; do
      port=$((20000 + RANDOM % 40000))
      if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 -o "-k $dir -p $port \
          -c listen_addresses=127.0.0.1,::1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
          -c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key" start >/dev/null 2>&1; then
        started=1; break
      fi
    done
    [ -n "$started" ] || die "the cluster did not start: $(tail -5 "$dir/log" 2>/dev/null)"

    "$bin/psql" -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U silomerge -d postgres \
      -c "CREATE DATABASE silomerge" \
      -c "CREATE ROLE silomerge_password NOLOGIN" \
      -c "CREATE ROLE silomerge_tls_only NOLOGIN" \
      -c "GRANT CONNECT ON DATABASE silomerge TO silomerge_password, silomerge_tls_only" \
      >/dev/null || die "could not create the test database"
  } >&2
  trap - EXIT
  echo "export SILOMERGE_TEST_PG_DIR='$dir'"
  echo "export SILOMERGE_TEST_PG='postgresql://silomerge@127.0.0.1:$port/silomerge?sslmode=disable'"
  echo "export SILOMERGE_TEST_PG_CA='$dir/ca.crt'"
  ;;
stop)
  dir="${2:-}"
  case "$dir" in /tmp/silomerge-pg.*) ;; *) die "stop: give the folder that start printed (/tmp/silomerge-pg.*)";; esac
  [ -d "$dir" ] || exit 0
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)
  if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  die "usage: $0 start | stop DIR"
  ;;
esac
