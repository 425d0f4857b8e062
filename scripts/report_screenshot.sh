#!/usr/bin/env bash
# Opens an `imr eval --report` page in a real headless browser (Debian's chromium, installed
# here if missing) and saves a full-page screenshot:
#   scripts/report_screenshot.sh REPORT.html [OUT.png] [HEIGHT=6000]
# The page must render with the network off: chromium runs with background networking
# disabled, and the page itself references nothing outside the file.
set -euo pipefail
page=${1:?usage: $0 REPORT.html [OUT.png] [HEIGHT]}
out=${2:-${page%.html}.png}
height=${3:-6000}
if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian package)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=1300,"$height" \
  --screenshot="$(realpath -m "$out")" "file://$(realpath "$page")" 2>/dev/null
echo "screenshot: $out"
