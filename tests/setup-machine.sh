#!/bin/sh
# Install what the test suite needs on Debian: python3-venv (for .venv), Chromium (browser tests), shellcheck (install
# scripts), a CJK font (Chinese in screenshots and PDFs renders as text, not boxes), and
# PostgreSQL client and server binaries (pg_dump/pg_restore for backup tests; initdb/pg_ctl so
# the suite can start a throwaway cluster where no server answers on 127.0.0.1:5432).
#
# Run by `make test` (target `prereqs`). It never fails the build itself: where it cannot
# install (not root, no apt-get, registry unreachable) it says so in one line, the tests that
# need the missing tool skip, and a skip fails the run unless DAIBAN_ALLOW_SKIPS=1.
set -u

need=""
# `make setup` builds .venv with python3's venv module (Debian ships ensurepip separately).
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need="$need python3-venv"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v shellcheck >/dev/null 2>&1 || need="$need shellcheck"
command -v pg_dump >/dev/null 2>&1 || need="$need postgresql-client"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei" || need="$need fonts-wqy-microhei"

[ -z "$need" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "prereqs: not root, so not installing:$need (as root: make prereqs)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "prereqs: no apt-get on this machine, so not installing:$need"
  exit 0
fi

echo "prereqs: installing$need"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # $need is a list of package names
if ! { apt-get update -qq && apt-get install -y -qq $need >/dev/null; }; then
  echo "prereqs: apt-get could not install:$need"
fi
exit 0
