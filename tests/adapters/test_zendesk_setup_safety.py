"""`sidecar zendesk setup`: a webhook URL Zendesk can reach, and an env file that stays private.

Against FakeZendesk over HTTP; the git checks run the real ``git`` in a
temporary repository; the env file is loaded by the real ``sh`` the way the
README says the service loads it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.cli import main
from sidecar.errors import ConfigError
from sidecar.zendesk.setup import (
    SetupResult,
    check_webhook_url,
    env_lines,
    merge_env_file,
)
from tests.fake_zendesk import FakeZendesk

URL = "https://sidecar.example.com/webhooks/zendesk"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        fake.empty_account()
        yield fake


def setup(zendesk: FakeZendesk, *args: str, url: str = URL) -> Result:
    env: dict[str, str | None] = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_SEVERITY_FIELD_ID": None,
        "SIDECAR_DUE_AT_FIELD_ID": None,
        "SIDECAR_DUE_DATE_FIELD_ID": None,
        **zendesk.env(),
    }
    return CliRunner().invoke(main, ["zendesk", "setup", "--url", url, *args], env=env)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/webhooks/zendesk",
        "https://127.8.9.10:8443/webhooks/zendesk",
        "https://localhost:8000/webhooks/zendesk",
        "https://api.localhost/webhooks/zendesk",
        "https://[::1]:8000/webhooks/zendesk",
        "https://10.1.2.3/webhooks/zendesk",
        "https://192.168.1.20/webhooks/zendesk",
        "https://172.16.0.5/webhooks/zendesk",
        "https://172.31.255.1/webhooks/zendesk",
        "https://169.254.169.254/webhooks/zendesk",
        "https://[fe80::1]/webhooks/zendesk",
        "https://[fd00::5]/webhooks/zendesk",
        "https://[::ffff:10.0.0.1]/webhooks/zendesk",
        "https://0.0.0.0/webhooks/zendesk",
        "https://sidecar/webhooks/zendesk",
        "https://sidecar.internal/webhooks/zendesk",
        "https://sidecar.local/webhooks/zendesk",
    ],
)
def test_an_address_zendesk_cannot_reach_is_refused_before_any_call(
    zendesk: FakeZendesk, url: str
) -> None:
    """Loopback, private, link-local and local-only names: refused, naming the value and the flag."""
    result = setup(zendesk, url=url)
    assert result.exit_code == 1, result.output
    assert url in result.output and "Zendesk" in result.output
    assert "--allow-unreachable-url" in result.output
    assert "Traceback" not in result.output
    assert zendesk.calls() == []


def test_the_override_flag_lets_a_local_url_through(zendesk: FakeZendesk) -> None:
    """--allow-unreachable-url (tests, a tunnel set up later) writes the webhooks anyway."""
    url = "http://127.0.0.1:8000/webhooks/zendesk"
    result = setup(zendesk, "--allow-unreachable-url", url=url)
    assert result.exit_code == 0, result.output
    assert {hook["endpoint"] for hook in zendesk.webhook_list()} == {url}


def test_public_http_is_refused_unless_allowed(zendesk: FakeZendesk) -> None:
    """Plain http to a public host: refused with the reason; --allow-http accepts it."""
    url = "http://sidecar.example.com/webhooks/zendesk"
    refused = setup(zendesk, url=url)
    assert refused.exit_code == 1 and "https" in refused.output
    assert "--allow-http" in refused.output and zendesk.calls() == []
    assert setup(zendesk, "--allow-http", url=url).exit_code == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pw@sidecar.example.com/x",
        "ftp://sidecar.example.com/x",
        "sidecar.example.com",
    ],
)
def test_a_url_that_is_not_a_plain_https_url_is_refused(url: str) -> None:
    """Credentials in the URL, another scheme, or no scheme at all: a clear refusal."""
    with pytest.raises(ConfigError, match="--url"):
        check_webhook_url(url)


def test_public_https_urls_pass() -> None:
    """A public name or address is what Zendesk can reach."""
    for url in (
        URL,
        "https://203.0.113.7.nip.io/hook",
        "https://8.8.8.8/webhooks/zendesk",
    ):
        check_webhook_url(url)


# --- the env file ---------------------------------------------------------------


def test_an_existing_world_readable_env_file_is_never_readable_with_secrets(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """An existing 0644 file ends 0600, and no moment exists where the secrets sit in a 0644 file."""
    path = tmp_path / "sidecar.env"
    path.write_text("OTHER=1\n")
    path.chmod(0o644)
    inode = path.stat().st_ino
    assert setup(zendesk, "--env-file", str(path)).exit_code == 0
    assert path.stat().st_mode & 0o777 == 0o600
    # Written beside and renamed over: the old 0644 inode never held a secret.
    assert path.stat().st_ino != inode
    assert "OTHER=1" in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["sidecar.env"]


def test_the_env_file_loads_in_sh_as_the_readme_says(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """`set -a; . FILE; set +a` puts exactly the written values in the environment."""
    path = tmp_path / "sidecar.env"
    result = setup(zendesk, "--env-file", str(path))
    assert result.exit_code == 0, result.output
    written = dict(
        line.split("=", 1) for line in path.read_text().splitlines() if "=" in line
    )
    script = f"set -a; . '{path}'; set +a; env -0"
    out = subprocess.run(
        ["sh", "-c", script], capture_output=True, check=True, env={}
    ).stdout.decode()
    loaded = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    assert written and all(loaded[key] == value for key, value in written.items())
    readme = (ROOT / "README.md").read_text()
    assert "set -a; . ./sidecar.env; set +a" in readme


def _sh_loads(text: str, tmp: Path) -> dict[str, str]:
    path = tmp / "loaded.env"
    path.write_text(text)
    out = subprocess.run(
        ["sh", "-c", f"set -a; . '{path}'; set +a; env -0"],
        capture_output=True,
        check=True,
        env={},
    ).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


@settings(max_examples=40, deadline=None)
@given(
    secrets=st.lists(
        st.text(
            st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=","),
            min_size=1,
            max_size=20,
        ),
        min_size=1,
        max_size=2,
    )
)
def test_any_secret_survives_the_file_and_sh(
    secrets: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whatever a secret holds (quotes, $, spaces), sh loads it back as written, merged twice."""
    tmp = tmp_path_factory.mktemp("sh")
    first = merge_env_file("", env_lines(SetupResult(new_secrets=secrets[:1])))
    both = merge_env_file(
        first, env_lines(SetupResult(new_secrets=secrets[1:] or secrets[:1]))
    )
    loaded = _sh_loads(both, tmp)
    assert loaded["SIDECAR_WEBHOOK_SECRET"] == ",".join(dict.fromkeys(secrets))


def test_gitignore_covers_the_documented_name() -> None:
    """The name the README tells admins to use is ignored by the repository's .gitignore."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    for name in ("sidecar.env", "deploy/.env", ".env"):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", "--no-index", name], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, name


def _git_repo(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def test_setup_warns_when_the_env_file_would_be_committed(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """Inside a git work tree and not ignored: a warning naming the file and the fix."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = _git_repo(tmp_path / "repo")
    path = repo / "secrets.env.txt"
    result = setup(zendesk, "--env-file", str(path))
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and str(path) in result.output
    assert ".gitignore" in result.output


def test_no_warning_when_the_env_file_is_ignored_or_outside_git(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """An ignored file, or one outside any work tree, gets no warning."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = _git_repo(tmp_path / "repo")
    (repo / ".gitignore").write_text("*.env\n")
    inside = setup(zendesk, "--env-file", str(repo / "sidecar.env"))
    outside_dir = tmp_path / "plain"
    outside_dir.mkdir()
    outside = setup(zendesk, "--env-file", str(outside_dir / "sidecar.env"))
    for result in (inside, outside):
        assert result.exit_code == 0, result.output
        assert "warning:" not in result.output


def test_the_printed_load_command_works_for_a_bare_name(
    zendesk: FakeZendesk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`. sidecar.env` would search PATH in sh: setup prints `. ./sidecar.env`."""
    monkeypatch.chdir(tmp_path)
    result = setup(zendesk, "--env-file", "sidecar.env")
    assert result.exit_code == 0, result.output
    assert "load it with: set -a; . ./sidecar.env; set +a" in result.output
