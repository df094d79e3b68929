"""Several broker addresses for one client: how they are written and read."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.hikvision import load_config as load_hikvision
from devices.zkteco import load_config as load_zkteco
from ingest.failover import BrokerAddress, FailoverClient, brokers, parse_brokers
from kycuong.settings import Settings


def test_urls_hosts_and_bare_names_are_read_in_order_with_the_default_port() -> None:
    assert parse_brokers("mqtt://nats-1:1883, nats-2:1884,10.0.0.7,[fd00::5]:1885", 1883) == (
        BrokerAddress("nats-1", 1883),
        BrokerAddress("nats-2", 1884),
        BrokerAddress("10.0.0.7", 1883),
        BrokerAddress("fd00::5", 1885),
    )
    assert parse_brokers(["mqtts://a:8883", "b"], 8883) == (
        BrokerAddress("a", 8883),
        BrokerAddress("b", 8883),
    )


@pytest.mark.parametrize("spec", ["nats-1:port", "http://nats-1", "mqtt://a/b", "", " , "])
def test_an_unreadable_address_is_refused_in_vietnamese(spec: str) -> None:
    with pytest.raises(ValueError, match="địa chỉ máy chủ MQTT"):
        parse_brokers(spec, 1883)


def test_one_host_and_port_still_mean_what_they_meant() -> None:
    settings = Settings(mqtt_host="broker", mqtt_port=1883)
    assert settings.mqtt_brokers == (BrokerAddress("broker", 1883),)
    assert brokers("127.0.0.1", 1884) == (BrokerAddress("127.0.0.1", 1884),)


def test_kc_mqtt_url_names_every_node_and_wins_over_the_host() -> None:
    settings = Settings(mqtt_host="broker", mqtt_url="mqtt://nats-1:1883,mqtt://nats-2:1883")
    assert [str(a) for a in settings.mqtt_brokers] == ["nats-1:1883", "nats-2:1883"]


def test_a_misspelt_kc_mqtt_url_stops_the_settings() -> None:
    with pytest.raises(ValueError, match="không đọc được"):
        Settings(mqtt_url="mqtt://nats-1:1883/x,mqtt://nats-2:1883")


def test_the_failover_client_tries_the_addresses_in_turn() -> None:
    from paho.mqtt.enums import CallbackAPIVersion

    client = FailoverClient(
        parse_brokers("127.0.0.1:1,127.0.0.1:2", 1883), CallbackAPIVersion.VERSION2
    )
    tried = []
    for _ in range(3):
        with pytest.raises(OSError):  # nothing listens on ports 1 and 2
            client.reconnect()
        tried.append(client.port)
    assert tried == [1, 2, 1]


def test_a_bridge_file_may_list_every_node(tmp_path: Path) -> None:
    zk = tmp_path / "zk.toml"
    zk.write_text(
        '[broker]\nhosts = ["nats-1:8883", "nats-2:8883", "nats-3"]\nport = 8883\n'
        '[[terminals]]\ndevice_id = "ZK-1"\naddress = "192.168.1.201"\n'
    )
    config = load_zkteco(zk)
    assert brokers(config.broker_host, config.broker_port) == (
        BrokerAddress("nats-1", 8883),
        BrokerAddress("nats-2", 8883),
        BrokerAddress("nats-3", 8883),
    )
    hik = tmp_path / "hik.toml"
    hik.write_text(
        '[broker]\nhosts = ["nats-1:1883", "nats-2:1883"]\n'
        '[[terminals]]\ndevice_id = "HIK-1"\npassword = "p"\n'
    )
    assert load_hikvision(hik).broker_host == "nats-1:1883,nats-2:1883"
    hik.write_text(
        '[broker]\nhosts = ["nats-1:x"]\n[[terminals]]\ndevice_id = "H"\npassword = "p"\n'
    )
    with pytest.raises(ValueError, match="cổng không hợp lệ"):
        load_hikvision(hik)


def test_an_empty_kc_mqtt_url_as_compose_passes_it_leaves_the_host() -> None:
    settings = Settings(mqtt_host="broker", mqtt_port=1883, mqtt_url="")
    assert settings.mqtt_brokers == (BrokerAddress("broker", 1883),)


def test_a_bare_ipv6_host_still_means_what_it_meant() -> None:
    """KC_MQTT_HOST=::1 worked before several addresses were read (refused then as a bad port)."""
    assert Settings(mqtt_host="::1", mqtt_port=1883).mqtt_brokers == (BrokerAddress("::1", 1883),)
    assert parse_brokers("fd00::5,[fd00::6]:1885", 1883) == (
        BrokerAddress("fd00::5", 1883),
        BrokerAddress("fd00::6", 1885),
    )


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("nats-1:0", "cổng không hợp lệ"),  # was quietly the default port
        ("mqtt://kc-ingest:secret@nats-1:1883", "tên đăng nhập/mật khẩu"),  # was dropped
    ],
)
def test_what_would_be_quietly_dropped_is_refused(spec: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_brokers(spec, 1883)


def test_an_empty_kc_mqtt_host_stops_the_settings_not_the_worker_later() -> None:
    with pytest.raises(ValueError, match="chưa có địa chỉ máy chủ MQTT"):
        Settings(mqtt_host="  ")


def test_mqtts_without_a_ca_is_refused_rather_than_connecting_in_plain(tmp_path: Path) -> None:
    """The scheme does not switch TLS on (the CA does): mqtts:// with no CA connected in plain
    to a TLS port and failed as "could not reach"."""
    with pytest.raises(ValueError, match="KC_MQTT_TLS_CA"):
        Settings(mqtt_url="mqtts://nats-1:8883,mqtts://nats-2:8883")
    ok = Settings(mqtt_url="mqtts://nats-1:8883", mqtt_tls_ca="/etc/kycuong/ca.crt")
    assert ok.mqtt_brokers == (BrokerAddress("nats-1", 8883),)
    hik = tmp_path / "hik.toml"
    hik.write_text(
        '[broker]\nhosts = ["mqtts://nats-1:8883"]\n'
        '[[terminals]]\ndevice_id = "HIK-1"\npassword = "p"\n'
    )
    with pytest.raises(ValueError, match="tls_ca"):
        load_hikvision(hik)


def test_why_an_address_failed_is_said_once_and_kept_for_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A wrong CA showed only as "could not reach": the reason is logged once per address."""
    from paho.mqtt.enums import CallbackAPIVersion

    client = FailoverClient(parse_brokers("127.0.0.1:1", 1883), CallbackAPIVersion.VERSION2)
    with caplog.at_level("WARNING", logger="ingest.failover"):
        for _ in range(3):
            with pytest.raises(OSError):
                client.reconnect()
    said = [r.getMessage() for r in caplog.records if "127.0.0.1:1" in r.getMessage()]
    assert len(said) == 1 and "refused" in said[0].lower()
    assert "refused" in client.failures[BrokerAddress("127.0.0.1", 1)].lower()


@pytest.mark.parametrize(
    ("broker", "says"),
    [
        ({"hosts": []}, "hosts trống"),
        ({"host": "a", "hosts": ["b:1883"]}, "cả host và hosts"),
    ],
)
def test_a_bridge_broker_table_that_means_nothing_or_two_things_is_refused(
    broker: dict[str, object], says: str
) -> None:
    from devices.reader import broker_spec

    with pytest.raises(ValueError, match=says):
        broker_spec(broker)
