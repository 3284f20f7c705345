#!/usr/bin/env bash
# The one test command (README.md): installs what the tests need, then format, lint and test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/setup.sh
if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
  export KEA_DOC_EXAMPLES="$(bash ci/kea-doc.sh)"
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
