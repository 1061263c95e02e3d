"""The JupyterLab extension ships prebuilt: in the wheel, and enabled where it is installed.

Users install kernel_ext with pip and never run Node: the wheel must carry the
built extension (its package, install.json, settings schema and bundles), and
JupyterLab in the project's environment must list it enabled and OK.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import kernel_ext

REPO = Path(__file__).resolve().parent.parent
SHARE = "data/share/jupyter/labextensions/kernel-ext"  # inside the wheel's .data folder


def test_the_wheel_ships_the_prebuilt_lab_extension(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path), str(REPO)], check=True, timeout=600)
    (wheel,) = tmp_path.glob("kernel_ext-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        root = f"kernel_ext-{kernel_ext.__version__}.data/{SHARE}"
        package = json.loads(archive.read(f"{root}/package.json"))
        install = json.loads(archive.read(f"{root}/install.json"))
        schema = json.loads(archive.read(f"{root}/schemas/kernel-ext/plugin.json"))
    assert package["name"] == "kernel-ext" and package["version"] == kernel_ext.__version__
    assert install["packageName"] == "kernel_ext"
    assert {"notifyThreshold", "desktopNotifications", "refreshRate"} <= set(
        schema["properties"])
    bundles = [n for n in names if n.startswith(f"{root}/static/") and n.endswith(".js")]
    assert any("/remoteEntry." in n for n in bundles), bundles


def test_jupyterlab_lists_the_extension_enabled_and_ok() -> None:
    listing = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                             capture_output=True, text=True, timeout=120, check=True)
    text = listing.stdout + listing.stderr
    version = re.escape(kernel_ext.__version__)
    assert re.search(rf"kernel-ext v{version} .*enabled.*OK", text), text
