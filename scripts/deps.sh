#!/bin/sh
# Installs the Debian packages herdsim builds, tests and draws figures with.
# Runs apt-get as root, or through sudo when not root.
set -eu
pkgs="gcc make pkg-config libsqlite3-dev libcsv-dev libinih-dev libcmocka-dev libjansson-dev zlib1g-dev
      gnuplot-nox sqlite3 parallel hyperfine poppler-utils chromium"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
