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
exec "$SVENV/bin/ansible-test" sanity --local --requirements --python 3.11 --color no "$@"
