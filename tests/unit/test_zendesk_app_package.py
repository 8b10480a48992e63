"""The sidebar app's package, checked by the rules Zendesk's build applies.

`zcli apps:validate` sends the package to a Zendesk account's
/api/v2/apps/validate (zcli-apps dist/lib/package.js), so it cannot run
without one. These are the validator's own rules that apply to this app, read
from zendesk/zendesk_apps_support (validations/manifest.rb, translations.rb,
secure_settings.rb, marketplace.rb); an admin runs `zcli apps:validate` too.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

from sidecar.zendesk.app_install import APP_DIR, package
from tests.fake_zendesk_apps import manifest_problems

MANIFEST = json.loads((APP_DIR / "manifest.json").read_text())
EN = json.loads((APP_DIR / "translations" / "en.json").read_text())
APP_JS = (APP_DIR / "assets" / "app.js").read_text()


def test_the_manifest_passes_the_build_rules() -> None:
    """Required keys, parameter names and scopes as manifest.rb checks them."""
    assert manifest_problems(MANIFEST) == []
    assert MANIFEST["frameworkVersion"] == "2.0"
    sidebar = MANIFEST["location"]["support"]["ticket_sidebar"]
    assert (APP_DIR / sidebar["url"]).is_file()


def test_the_secret_is_a_secure_header_only_setting_without_a_default() -> None:
    """secure + scopes ["header"], no default (secure_settings.rb warns on a default)."""
    params = {p["name"]: p for p in MANIFEST["parameters"]}
    secret = params["sidecar_secret"]
    assert secret["secure"] is True and secret["scopes"] == ["header"]
    assert "default" not in secret
    for param in MANIFEST["parameters"]:
        # secure_settings.rb insecure_param?: token/key/pwd/password text params.
        if re.search("token|key|pwd|password", param["name"], re.I):
            assert param.get("secure"), param["name"]


def test_secure_requests_go_only_to_the_whitelisted_sidecar() -> None:
    """domainWhitelist names the sidecar URL setting; secure settings need it."""
    assert MANIFEST["domainWhitelist"] == ["{{setting.sidecar_url}}"]


def test_the_browser_code_never_holds_the_secret() -> None:
    """The secret appears only as the proxy's placeholder in a secure request."""
    assert APP_JS.count("{{setting.sidecar_secret}}") == 1
    assert "secure: true" in APP_JS
    assert "settings.sidecar_secret" not in APP_JS


def test_translations_name_the_app_and_label_every_parameter() -> None:
    """translations.rb: a private app needs app.name; each parameter node a label."""
    assert MANIFEST["private"] is True and EN["app"]["name"]
    labels = EN["app"]["parameters"]
    for param in MANIFEST["parameters"]:
        assert labels[param["name"]]["label"], param["name"]


def test_the_package_has_no_symlinks_and_no_tooling() -> None:
    """marketplace.rb refuses symlinks; the zip carries the app only."""
    data = package(APP_DIR).data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        modes = [info.external_attr >> 16 for info in archive.infolist()]
    assert not any(mode & 0o170000 == 0o120000 for mode in modes)
    assert all(
        n.startswith(("manifest.json", "translations/", "assets/")) for n in names
    )
    assert package(APP_DIR).data == data  # reproducible: same files, same bytes
