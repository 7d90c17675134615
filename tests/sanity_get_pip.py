"""Stand-in for the get-pip.py that ansible-test downloads from its own file host.

ansible-test bootstraps pip in each sanity virtualenv by running a cached get-pip
script (~/.ansible/test/cache/get_pip_<version>.py). That host is not reachable
here, so tests/sanity.sh puts this script in the cache instead: it installs the
pip that ships with Python (ensurepip), then the packages ansible-test asked for
(the pinned pip, optionally setuptools and wheel) from PyPI.
"""

import subprocess
import sys

args = sys.argv[1:]
extras = [name for name in ("setuptools", "wheel") if "--no-%s" % name not in args]
args = [a for a in args if a not in ("--no-setuptools", "--no-wheel")]
# In a subprocess: ensurepip, run in-process, sets PIP_CONFIG_FILE=/dev/null in os.environ,
# which would hide the machine's pip configuration (index, certificates) from the install below.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args + extras)
