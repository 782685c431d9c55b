#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (/usr/bin/chromium) through Playwright; `make test` calls this
# first. It installs Chromium when it is missing and we may (root with apt-get); otherwise it says how.
set -u
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests ..."
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    && exit 0
  echo "Could not install chromium with apt-get; the browser tests will say they were skipped." >&2
  exit 0
fi
echo "No /usr/bin/chromium: install Debian's 'chromium' package to run the browser tests." >&2
exit 0
