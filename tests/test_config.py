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
    ("ARCHIVER_ANONYMOUS_ROLE", "admin", "use none .* researcher .* or archivist"),
    ("ARCHIVER_RATE_LIMIT_URL", "memcached://x", "must be redis://"),
    ("ARCHIVER_LOCKOUT_AFTER", "0", "must be between 1 and 1000"),
    ("ARCHIVER_SUBMIT_RATE", "many", "must be a whole number"),
])
def test_bad_settings_say_what_to_do(tmp_path, name, value, expected):
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path), name: value})


def test_s3_storage_and_pool_settings(tmp_path):
    s = Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path), "ARCHIVER_STORAGE_URL": "s3://warcs/prod",
                           "ARCHIVER_S3_ENDPOINT_URL": "https://minio.internal:9000/",
                           "ARCHIVER_DB_POOL_SIZE": "2", "ARCHIVER_DB_MAX_OVERFLOW": "0"})
    assert (s.storage_url, s.s3_endpoint_url) == ("s3://warcs/prod", "https://minio.internal:9000")
    assert (s.db_pool_size, s.db_max_overflow) == (2, 0)


@pytest.mark.parametrize("env,expected", [
    ({"ARCHIVER_STORAGE_URL": "s3:///prefix"}, "needs a bucket name"),
    ({"ARCHIVER_STORAGE_URL": "s3://KEY:SECRET@bucket/p"}, "credentials come from AWS_"),
    ({"ARCHIVER_STORAGE_URL": "s3://bucket/a/../b"}, "storage key"),
    ({"ARCHIVER_STORAGE_URL": "s3://b", "ARCHIVER_S3_ENDPOINT_URL": "minio:9000"}, "http or https"),
    ({"ARCHIVER_STORAGE_URL": "s3://b", "ARCHIVER_S3_ENDPOINT_URL": "http://m:9000/bucket"}, "no path"),
    ({"ARCHIVER_S3_ENDPOINT_URL": "http://m:9000"}, "ARCHIVER_STORAGE_URL is not s3://"),
    ({"ARCHIVER_DB_POOL_SIZE": "0"}, "between 1 and 1000"),
])
def test_bad_s3_settings_say_what_to_do(tmp_path, env, expected):
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path), **env})
