"""`switchboard check-config FILE`: checks a configuration without starting the hub, reports every problem as
`source: key: reason` with exit status 2, and prints the effective configuration with secrets masked."""
import subprocess

from conftest import BINARY, inherited_environment

API_KEY_SECRET = "check-config-api-key-0123456789"
HMAC_SECRET = "check-config-hmac-secret-0123456789abcdef"
DATABASE_PASSWORD = "db-password-s3cret"


def check(path, **environment):
    env = {key: value for key, value in inherited_environment().items() if not key.startswith("SWITCHBOARD_")}
    env.update(environment)
    return subprocess.run([BINARY, "check-config", str(path)], env=env, capture_output=True, text=True, timeout=30)


def effective(stdout):
    """{key: (value, source)} from lines `key = value   # source`."""
    lines = {}
    for line in stdout.splitlines():
        setting, source = line.rsplit("   # ", 1)
        key, value = setting.split(" = ", 1)
        lines[key.strip()] = (value, source)
    return lines


def test_a_valid_file_prints_every_key_with_its_source_and_masks_secrets(tmp_path):
    config = tmp_path / "switchboard.yaml"
    config.write_text(
        "mode: production\n"
        f"api:\n  key: {API_KEY_SECRET}\n"
        f"auth:\n  hmac_secret: {HMAC_SECRET}\n"
        f"engine:\n  type: postgres\n  postgres:\n    url: postgres://hub:{DATABASE_PASSWORD}@db.internal:5432/hub\n"
        "limits:\n  max_message_bytes: 131072\n"
        "namespaces:\n  chat:\n    presence: true\n"
    )
    done = check(config, SWITCHBOARD_LIMITS_MAX_CONNECTIONS="500")
    assert done.returncode == 0, done.stderr
    lines = effective(done.stdout)
    assert lines["mode"] == ("production", str(config))
    assert lines["api.key"] == ("***", str(config))
    assert lines["auth.hmac_secret"] == ("***", str(config))
    assert lines["engine.postgres.url"] == ("postgres://hub:***@db.internal:5432/hub", str(config))
    assert lines["limits.max_message_bytes"] == ("131072", str(config))
    assert lines["limits.max_connections"] == ("500", "environment")
    assert lines["heartbeat.interval_ms"][1] == "default"
    assert lines["namespaces.chat.presence"] == ("true", str(config))
    for secret in (API_KEY_SECRET, HMAC_SECRET, DATABASE_PASSWORD):
        assert secret not in done.stdout + done.stderr


def test_every_bad_value_is_reported_as_source_key_reason_with_exit_status_2(tmp_path):
    config = tmp_path / "switchboard.yaml"
    config.write_text("limits:\n  max_message_bytes: lots\n  outbound_queue_bytes: -1\nheartbeat:\n  intervl_ms: 5\n")
    done = check(config, SWITCHBOARD_LOG_FORMAT="xml")
    assert done.returncode == 2
    assert done.stdout == ""
    errors = done.stderr.splitlines()
    assert [line.split(": ")[:2] for line in errors] == [
        [str(config), "limits.max_message_bytes"],
        [str(config), "limits.outbound_queue_bytes"],
        [str(config), "heartbeat.intervl_ms"],
        ["environment", "SWITCHBOARD_LOG_FORMAT"],
    ]
    assert "did you mean heartbeat.interval_ms?" in errors[2]
    assert 'expected "text" or "json"' in errors[3]


def test_tls_files_are_checked_without_starting(tmp_path):
    config = tmp_path / "switchboard.yaml"
    config.write_text(f"server:\n  tls_cert: {tmp_path / 'missing.pem'}\n  tls_key: {tmp_path / 'missing-key.pem'}\n")
    done = check(config)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{config}: server.tls_cert: cannot read a PEM certificate chain from {tmp_path / 'missing.pem'}")


def test_an_unreadable_file_is_named():
    done = check("/nonexistent/switchboard.yaml")
    assert done.returncode == 2
    assert done.stderr == "/nonexistent/switchboard.yaml: : cannot read the file\n"
