#!/usr/bin/env bash
# Make sure the machine has the non-Python tools wirewatch needs; install them with apt-get when we
# can (root on Debian/Ubuntu), otherwise say exactly what is missing and fail.
#   ensure-tools.sh run    Java 17+ and Maven (the local Kafka broker)
#   ensure-tools.sh test   the above plus Prometheus/promtool (dashboard and rule tests), Alertmanager and
#                          amtool (its config check and delivery test), docker-compose, and Chromium with
#                          its driver (the alert page test drives Debian's chromium with Playwright)
set -euo pipefail
purpose=${1:-test}

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
if [[ $purpose == test ]]; then
  { command -v prometheus && command -v promtool; } >/dev/null 2>&1 || missing+=(prometheus)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  { command -v prometheus-alertmanager && command -v amtool; } >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi
((${#missing[@]})) || exit 0

if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "wirewatch: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "wirewatch: missing tools; install these Debian/Ubuntu packages (or equivalents): ${missing[*]}" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
