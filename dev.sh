#!/usr/bin/env bash
# Set up the environment (Debian packages, virtualenv, pip) if needed, then run a job.
#   ./dev.sh main      the main job: a 2-minute fuzz campaign (report in campaign-out/)
#   ./dev.sh spectest  the spec-test runner over the official suite, per engine
#   ./dev.sh test      the test suite (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"
SPEC_DIR=${SPEC_TESTSUITE:-../shared/spec-testsuite}

apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "dev.sh: installing Debian packages: $*" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

setup() {
    local need=()
    python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
    command -v as >/dev/null || need+=(binutils)
    command -v aarch64-linux-gnu-as >/dev/null || need+=(binutils-aarch64-linux-gnu)
    command -v s390x-linux-gnu-as >/dev/null || need+=(binutils-s390x-linux-gnu)
    # headless Chromium renders the campaign report for its screenshot test
    command -v chromium >/dev/null || need+=(chromium)
    [ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    # Reinstall only when the package metadata changed.
    local stamp=.venv/.installed-$(cat setup.cfg pyproject.toml | sha1sum | cut -c1-12)
    if [ ! -f "$stamp" ]; then
        .venv/bin/python -m pip install -q --upgrade pip >/dev/null
        .venv/bin/python -m pip install -q -e '.[test]'
        rm -f .venv/.installed-* && touch "$stamp"
    fi
}

case "${1:-}" in
    main)
        setup
        shift
        .venv/bin/oracle campaign --minutes 2 --jobs 2 --out campaign-out "$@"
        ;;
    spectest)
        if ! compgen -G "$SPEC_DIR/*.wast" >/dev/null; then
            echo "dev.sh: spec test suite not found at $SPEC_DIR (no .wast files): set" \
                 "SPEC_TESTSUITE=DIR to a checkout of https://github.com/WebAssembly/testsuite" >&2
            exit 2
        fi
        setup
        .venv/bin/oracle spectest --engine frontend "$SPEC_DIR"/*.wast
        .venv/bin/oracle spectest --engine wasmtime "$SPEC_DIR"/*.wast
        .venv/bin/oracle spectest --engine winch-x64 "$SPEC_DIR"/*.wast
        .venv/bin/oracle spectest --engine winch-aarch64 "$SPEC_DIR"/*.wast
        .venv/bin/oracle spectest --engine winch-s390x "$SPEC_DIR"/*.wast
        .venv/bin/oracle spectest --engine interp "$SPEC_DIR"/*.wast
        ;;
    test)
        setup
        shift
        .venv/bin/python -m pytest -n 2 --dist loadgroup -q "$@"
        ;;
    *)
        echo "usage: ./dev.sh main [campaign args] | spectest | test [pytest args]" >&2
        exit 2
        ;;
esac
