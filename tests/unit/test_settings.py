"""Settings: read once from MARSAD_* variables, validated, secrets never printed."""

import pytest

from processors.settings import Secret, Settings, load_settings


def test_settings_defaults_point_at_the_local_stack():
    settings = load_settings({})
    assert settings == Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.topics["dead_letters"] == "marsad.dead-letters"


def test_settings_read_and_coerce_the_environment():
    settings = load_settings({"MARSAD_TOPIC_PARTITIONS": "12", "MARSAD_EXTRACT_BATCH_SECONDS": "0.25",
                              "MARSAD_TOPIC_PREFIX": "prod", "MARSAD_ELASTICSEARCH_URL": "https://es:9200"})
    assert (settings.topic_partitions, settings.extract_batch_seconds) == (12, 0.25)
    assert settings.topics["articles"] == "prod.articles"
    assert settings.elasticsearch_url == "https://es:9200"


def test_settings_secrets_never_print(tmp_path):
    secret_file = tmp_path / "password"
    secret_file.write_text("s3cr3t\n")
    settings = load_settings({"MARSAD_ELASTICSEARCH_API_KEY": "key-123",
                              "MARSAD_ELASTICSEARCH_PASSWORD_FILE": str(secret_file)})
    assert isinstance(settings.elasticsearch_api_key, Secret)
    assert settings.elasticsearch_api_key.reveal() == "key-123"
    assert settings.elasticsearch_password.reveal() == "s3cr3t"
    for shown in (repr(settings), str(settings), f"{settings.elasticsearch_api_key}"):
        assert "key-123" not in shown and "s3cr3t" not in shown


@pytest.mark.parametrize(("env", "message"), [
    ({"MARSAD_TOPIC_PARTITIONS": "many"}, "MARSAD_TOPIC_PARTITIONS='many' is not a valid int"),
    ({"MARSAD_TOPIC_PARTITIONS": "0"}, "MARSAD_TOPIC_PARTITIONS must be >= 1"),
    ({"MARSAD_EXTRACT_PROCESSES": "-1"}, "MARSAD_EXTRACT_PROCESSES must be >= 0"),
    ({"MARSAD_MAX_TEXT_CHARS": "10"}, "MARSAD_MAX_TEXT_CHARS must be >= 1000"),
])
def test_settings_reject_bad_values_with_the_variable_named(env, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        load_settings(env)


def test_settings_as_environment_round_trips_secrets_included():
    from dataclasses import replace

    from processors.settings import as_environment

    settings = replace(Settings(), topic_partitions=7, elasticsearch_password=Secret("pw"), kafka_flavour="tansu")
    env = as_environment(settings, {"PATH": "/bin", "MARSAD_STALE": "x"})
    assert env["PATH"] == "/bin" and "MARSAD_STALE" not in env
    assert load_settings(env) == settings
