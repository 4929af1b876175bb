#!/usr/bin/env bash
# Install the Debian packages of the brokers the test suite runs for real (RabbitMQ, Mosquitto,
# Redis, nats-server; Node.js and npm for Azurite). Idempotent: does nothing when they are all
# there. Needs root or sudo; the tests start each broker themselves, on a free 127.0.0.1 port, and
# stop it afterwards.
set -euo pipefail

packages=(rabbitmq-server mosquitto redis-server nats-server nodejs)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# Azurite (Azure Storage's emulator) comes from npm: Debian ships npm apart from nodejs, NodeSource inside it.
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "tests/services/install.sh: cannot install ${missing[*]} without root; run as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    # Locally the tests of those brokers are skipped with the reason; under CI=true they must run.
    case "${CI:-}" in true|1|yes) exit 1 ;; *) exit 0 ;; esac
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
