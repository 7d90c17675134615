#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/inferops/kubernetes
# as a real directory (it resolves symlinks), so the checkout's files are copied there.
# Its own pinned test requirements (pylint, yamllint, ...) go into a virtualenv of
# their own, .tmp/sanity-venv, so they never clash with .venv's ansible-lint.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/.tmp/sanity/ansible_collections/inferops/kubernetes"
rm -rf "$DEST"
mkdir -p "$DEST"
cd "$ROOT"
# tracked and new files, without what .gitignore excludes
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] || continue
  mkdir -p "$DEST/$(dirname "$f")"
  cp -p "$f" "$DEST/$f"
done
cd "$DEST"
# The copy sits inside the checkout's ignored .tmp/: a repository of its own keeps
# ansible-test from reading the outer .gitignore and skipping every file.
git init -q . && git add -A
SVENV="$ROOT/.tmp/sanity-venv"
if [ ! -x "$SVENV/bin/ansible-test" ]; then
  python3.11 -m venv "$SVENV"
  "$SVENV/bin/pip" install --quiet --disable-pip-version-check "$(grep '^ansible-core==' "$ROOT/requirements-dev.txt")"
fi
# ansible-test's pip bootstrap script comes from a host that is not a package registry;
# tests/sanity_get_pip.py stands in for it (ensurepip, then PyPI).
PIP_VERSION=$("$SVENV/bin/python" - <<'PY'
import inspect, re
from ansible_test._internal import python_requirements
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(python_requirements.get_venv_packages)).group(1))
PY
)
mkdir -p "$HOME/.ansible/test/cache"
cp "$ROOT/tests/sanity_get_pip.py" "$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py"
# ansible-test skips its shellcheck test, and still reports success, when the command is
# missing: install it from Debian (these machines and CI run as root).
if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: shellcheck is not installed; install it (Debian: apt-get install shellcheck) and run again" >&2
    exit 1
  fi
  echo "installing shellcheck from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y -q shellcheck >&2; then
    apt-get -o DPkg::Lock::Timeout=600 update -q >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -q shellcheck >&2
  fi
  command -v shellcheck >/dev/null 2>&1 || { echo "error: shellcheck is still not on PATH after apt-get install" >&2; exit 1; }
fi
OUTPUT=$(mktemp)
trap 'rm -f "$OUTPUT"' EXIT
set +e
"$SVENV/bin/ansible-test" sanity --local --requirements --python 3.11 --color no "$@" 2>&1 | tee "$OUTPUT"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || exit "$rc"
# A sanity test that did not run is not a pass, yet ansible-test exits 0: it warns
# 'Skipping sanity test "X" on Python ...' (no interpreter, no virtualenv, no libyaml), and for
# a missing command only 'Required program "shellcheck" not found.' (seen with ansible-core 2.19).
if grep -Ei 'skipping|skipped|required program .* not found' "$OUTPUT" >&2; then
  echo "error: ansible-test skipped the sanity test(s) above; install what they need so that they run" >&2
  exit 1
fi
