#!/usr/bin/env bash
# README's test command: installs what the tests need when it is missing
# (tmux for the console tests, sqlite3, dbus-daemon, a real Prometheus and
# Alertmanager, an SMTP server), then runs
# every test. Extra arguments go to `cargo test` (e.g. `./test.sh --test drill_cli`).
set -euo pipefail
cd "$(dirname "$0")"

need_pkgs=()
command -v tmux >/dev/null 2>&1 || need_pkgs+=(tmux)
command -v sqlite3 >/dev/null 2>&1 || need_pkgs+=(sqlite3)
# Desktop notifications are tested on a private session bus (tests/notify_desktop.rs).
command -v dbus-daemon >/dev/null 2>&1 || need_pkgs+=(dbus-daemon)
# The prometheus source is tested against a real server (tests/prometheus_source.rs),
# and the Alertmanager receiver against a real Alertmanager (tests/alertmanager.rs).
[ -x /usr/bin/prometheus ] || need_pkgs+=(prometheus)
[ -x /usr/bin/prometheus-alertmanager ] || need_pkgs+=(prometheus-alertmanager)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_pkgs[*]}" >&2
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq || true
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
  else
    echo "test.sh: cannot install ${need_pkgs[*]}: no apt-get; install them and run again" >&2
    exit 1
  fi
fi

# Email is tested against a real SMTP server: Python's aiosmtpd (tests/email_smtp.rs).
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "test.sh: installing aiosmtpd (pip)" >&2
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
fi

exec cargo test --locked "$@"
