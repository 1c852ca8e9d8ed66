# --- browser for tests/test_app_browser.py (paste into .ci/run after the venv is activated) ---
# Debian's Chromium, driven by playwright (the `test` extra) through executable_path;
# no browser is ever downloaded (playwright's own `playwright install` is never run).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi
chromium --version
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
python -m pip install --quiet "playwright>=1.50"   # also in the `test` extra
# --- end browser ---
