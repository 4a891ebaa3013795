#!/usr/bin/env bash
# Installs the headless browser the page test drives: Chromium and its WebDriver server from the
# distribution's packages (Debian: `chromium`, `chromium-driver`). Idempotent: does nothing when
# both are there. Needs root (or sudo) and apt, as on the CI machine.
#
#   scripts/browser.sh install     install chromium and chromedriver if missing
#   scripts/browser.sh check       exit 0 if both are installed, print their versions
set -euo pipefail

chromium="${CC_CHROMIUM:-/usr/bin/chromium}"
chromedriver="${CC_CHROMEDRIVER:-/usr/bin/chromedriver}"

installed() { [[ -x "$chromium" && -x "$chromedriver" ]]; }

case "${1:-}" in
    install)
        if installed; then exit 0; fi
        if ! command -v apt-get >/dev/null; then
            echo "browser.sh: no apt-get here; install Chromium and chromedriver yourself and set CC_CHROMIUM/CC_CHROMEDRIVER" >&2
            exit 1
        fi
        sudo=()
        if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
        echo "browser.sh: installing chromium and chromium-driver with apt-get" >&2
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
        installed || { echo "browser.sh: $chromium or $chromedriver still missing after the install" >&2; exit 1; }
        ;;
    check)
        installed || { echo "browser.sh: $chromium or $chromedriver is missing (scripts/browser.sh install)" >&2; exit 1; }
        "$chromium" --version
        "$chromedriver" --version
        ;;
    *) echo "usage: $0 install | check" >&2; exit 2 ;;
esac
