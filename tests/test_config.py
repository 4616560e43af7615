import pytest

from archiver.config import ConfigError, Settings


def test_defaults_are_embedded(tmp_path):
    s = Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'catalogue.sqlite3'}"
    assert s.broker_url == "filesystem://"
    assert s.storage_url == (tmp_path / "warcs").as_uri()
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.allow_private == frozenset()
    assert "archiver/" in s.user_agent and "+http" in s.user_agent


def test_allowlist_parses_host_port_pairs(tmp_path):
    s = Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path),
                           "ARCHIVER_ALLOW_PRIVATE": "127.0.0.1:8080, Intranet.Example.:443,[::1]:9000"})
    assert s.allow_private == {("127.0.0.1", 8080), ("intranet.example", 443), ("::1", 9000)}


@pytest.mark.parametrize("name,value,expected", [
    ("ARCHIVER_PORT", "eighty", "must be a whole number"),
    ("ARCHIVER_PORT", "70000", "between 1 and 65535"),
    ("ARCHIVER_ALLOW_PRIVATE", "localhost", "must look like host:port"),
    ("DATABASE_URL", "mysql://x/y", "use sqlite:///PATH or postgresql://"),
    ("ARCHIVER_BROKER_URL", "amqp://guest@localhost//", "use redis://"),
    ("ARCHIVER_STORAGE_URL", "ftp://x/", "use file:///"),
    ("ARCHIVER_READ_TIMEOUT", "-1", "must be above zero"),
    ("ARCHIVER_TOTAL_DEADLINE", "1000", "below ARCHIVER_TASK_SOFT_TIME_LIMIT"),
    ("ARCHIVER_DEDUP", "skip", "use 'revisit'"),
    ("ARCHIVER_PUBLIC_URL", "archive.example.org", "http or https"),
    ("ARCHIVER_WEBHOOK_BACKOFF", "0", "must be above zero"),
])
def test_bad_settings_say_what_to_do(tmp_path, name, value, expected):
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path), name: value})
