"""HA1xx findings on real flows, pinned after a review by hand.

Each entry lists every HA1xx finding (rule -> node ids) on one corpus flow; the comment above it
says what was checked: that each finding is right, and that what is not reported should not be.
A change to a routing rule that adds or drops a finding on these flows fails here, so the
change has to be looked at against real flows.
"""

from __future__ import annotations

import pytest

from hacheck.catalog import load_catalog
from hacheck.config import Config
from hacheck.loader import discover, read_source
from hacheck.runner import check_one

PINNED: dict[str, dict[str, set[str]]] = {
    # Home Assistant flow, 1205 nodes, 42 subflows, 226 disabled nodes. The 3 repeating injects
    # are all disabled (two sit on disabled tabs too): no HA110. Of the 7 ui_ nodes, ui_base is
    # unused, ui_tab/ui_group are config nodes and the ui_chart is disabled; the ui_template
    # ('anything', tab 'Subflow Manager') and the two ui_audio 'ECHO' (tab 'API Integrations')
    # run: one HA140 per tab. The `watch` on /config/flows.json sits in the subflow 'On Deploy /
    # Change', which has a running instance: HA120. All 6 http in reach an http response: no
    # HA150. No MQTT.
    "001__David-SKB__home-assistant-node-red__flows.json": {
        "HA120": {"a9b88fac6ee81cda"},
        "HA140": {"209313b8aacac5d0", "ac943ec51aa6c81e"},
    },
    # Nearly every tab is disabled (tcp/udp listeners, dashboards, websockets, a second ping):
    # nothing there is reported. On the running tab 'Flow 1': the ping 'Ping the Desk' has
    # `timer: 20` and no `mode`, so it pings every 20 s (HA110); the websocket out on the
    # listener /ws/osc broadcasts (HA121). Not reported, rightly: the websocket in on the same
    # listener (load-balanced like HTTP), the tcp in in client mode, injects without repeat.
    "005__DaveThw__EosRemote__node-red_flows.json": {
        "HA110": {"f172d4e.7644c28"},
        "HA121": {"1f18cb57.8c2ca5"},
    },
    # Factory model with one broker 'LocalBroker', clientid 'Node-RED' (HA103, used by 34 running
    # nodes). All 23 mqtt in are plain topics, 3 of them inside subflows with running instances
    # (cc90405b078b72d5, 831e8b50ae9d9067, 5f93a9aafc470689): HA101 each. 31 running ui_ widgets
    # on two tabs: two HA140. The ~40 injects are manual buttons (no repeat): no HA110.
    "010__Marius998__PP-NodeRED-Fitech4.0__flows_flows.json": {
        "HA101": {"39a710ad.a54c7", "454da047.c4d7e", "5cd64e31.be149", "5f93a9aafc470689", "5ff7971e.dd8d88", "7c642d8e.27cd14", "831e8b50ae9d9067", "84747c9e.dd3a1", "9d86de9f.e8252", "a901efed.4b3a1", "c1196ef.87bc99", "c22aaa5d.326338", "c4a629b8.f9d038", "cc90405b078b72d5", "cf09ad40.6ca76", "d4357a37.e63788", "d7b883bb.a2aac", "d8139d1e.c41b7", "e2c79422.3e00f8", "e94f62a.db538a", "ede2b0e8.656d9", "fa038b47.d0ae88", "ff7b51be.0b81"},
        "HA103": {"fa600c20.8a9c9"},
        "HA140": {"8ef1fe78.3886c", "d99ca802.0da3f8"},
    },
    # Ethernet/IP backup file. 43 `eth-ip in` nodes read the PLC endpoint 'PLC_SimFactory'
    # (cycletime 1500 ms) and send every change: each copy would poll the PLC and emit the
    # changes, HA110 on each. 12 injects repeat (1 s to 300 s): HA110. 4 plain mqtt in on the
    # HiveMQ Cloud broker: HA101; that broker has no client id and no birth/will: no HA103/HA105.
    "012__EasyTek-Automation__EasyTek-Data__node-red-config_.flows.json.backup": {
        "HA101": {"0b17e216e3b15a12", "577cfec5ec5d9117", "7dc34cd22c3bf5dd", "fd76f6768882146b"},
        "HA110": {"0437624de1c83b72", "0b8e1d71d2332d50", "107aab8d6ac2b917", "15e6e85bb55b48e3", "1a3ff9e4f0858185", "1f3412b4ddf1b036", "273fa9a0b7c15430", "2b557e8515f96a72", "35813b25a20be761", "40658b1c09eec1d4", "477a6ce48a2a37e3", "47bbc1a7520c9a8d", "486d8bb3fd6c37f2", "4e62af48bbe8f39d", "5a98527436da23fd", "5ddfee189c6d7a42", "5e33dff122ac23e2", "631ba67d45f072a8", "6a2f0c77bba083d0", "6c8d4abe12278c75", "6ec2468e39d54d32", "736cddb48b5109ad", "75f8318967d2c0f2", "8272b2abe3e30664", "86abc8d1500de2ae", "89e0d02cf815ad94", "8ec8da8ce218259d", "95d7920f39e71274", "96f8a188a92b099a", "998ff6fa59428732", "9bdb1a04a138fccf", "9e08b4b111eaadfe", "a4bd757e75e8635b", "a76cd0db23384278", "a7b402caa20fa8d2", "aefaec5651f54cb3", "b258f6087b80fd7b", "b6b733f1e7d37048", "b7a7d54804a37119", "c0a940d8e45a14c2", "c4df3856ad6180c7", "d19a89a86f40fe63", "d4951f0a89dcdf02", "d4d4b4fe468787e0", "d5abee1091f8dae1", "dbace61b8d33689b", "e32d1ce8d9378a47", "e8e50b619649dbf9", "ec8e6e345fafd9eb", "ee66630f8aaed5e5", "f04a02324e9d2306", "f07c54ddaa5125e0", "f3fd92630ff02106", "f9e2bf79a7db05d3", "fb351e084cd83f31"},
    },
    # Home automation. 6 plain mqtt in (HA101). 7 injects repeat 60 s to 900 s (HA110, incl.
    # 'once: true' ones that also repeat) and 9 bigtimers switching lights on their own schedule
    # (HA110); the two 'once' injects without repeat on 'Arrosage' are not reported. A `tcp in`
    # server on port 47900 (HA120). The broker 'Domotik-Broker' has no client id: no HA103.
    # Dashboard widgets on 'Web GUI' only: one HA140. The http in /currenttime is answered.
    "013__pascal1062__domotik-flows__flows_raspberrypi.json": {
        "HA101": {"3bd0323f.e3860e", "89c228fb.daef28", "913940ce.0b5a", "994d5739.3ac958", "a117be1.cb16d4", "d8137010.20715"},
        "HA110": {"24030102.4e5c8e", "42111725.97f6f8", "434253c8.d090cc", "5526b0ad.c400c", "5807ec38.330134", "5c645131.d53e98", "6e3386bb.785848", "8941cdb7.a3a17", "a6f90a8e.e7e328", "d1a1234.1b288e", "e5aa3d2e.8f9eb", "e62f04a3.c3d398", "e7857be.e215288", "ef3d9c0c.41a71", "fe33566.ea893a8"},
        "HA120": {"b4e9a044.e3f7e"},
        "HA140": {"5052fb75.8383a4"},
    },
    # MQTT + dashboard. 37 plain mqtt in (HA101); the broker has an empty client id (no HA103) but
    # birth, close and will topics bigTower/hi|bye|dying (HA105). 11 repeating injects, from
    # every 30 s to every 12 h (HA110); the 'once'-only injects are not reported. Two `udp in`
    # listeners, ports 9090 and 30303 (HA120). Dashboards on 5 tabs (HA140).
    "014__xmayeur__nodered__node-red-data_flows.json": {
        "HA101": {"1ce619b6.396426", "1d04e3bd.38155c", "23e8f780.444198", "24f5352a.8ab01a", "3ae84d83.68abf2", "416960d8.1436f", "57e56640.199d28", "5d5489d9.ed53c8", "5ea96ab6.f85fa4", "5ed130a4.3a3ba", "64bc3c32.7e5f04", "6c75554f.b7527c", "6f1089bf.d22728", "768455cd.d5bdec", "7f89f4ff.9e390c", "7f8ea326.24322c", "901a43e3.46fcc", "908b25a8.083da8", "92af1580.0b80c8", "971f84e3.781278", "a26c293.f478cd8", "aa31ebb4.800f68", "aba661fd.68882", "ac6b8430.dd8ab8", "b0177ce4.fde9b", "b25d27e8.240e18", "b453e810.1dc118", "b64ca5c2.455898", "b6df0095.9e6c6", "c7453141.b879b", "d681f8c6.a15998", "e6c92e90.a79dc", "e9c7de42.af856", "f8262877.9f4cf8", "fa955b4a.019068", "fdfd8c14.5198f", "fe3c0bb8.2a3ba8"},
        "HA105": {"e29f85d0.5a40a8"},
        "HA110": {"25d0e841.ae02f8", "4cadd74e.741708", "6a1e037.18fd1fc", "6b0c3ceb.734854", "6ea0ed7a.445384", "73cd0bcd.1489c4", "aa5a400.e8b3dc", "c3b6df3b.e1429", "c47bffac.d4e9e", "d9313135.67faf", "fa1d9fbc.53f26"},
        "HA120": {"6a2c47b3.8c0228", "6f08378e.594f68"},
        "HA140": {"7e596646.ff51a8", "8de34dec.0311b", "e460325d.9cdbf", "e85d4797.c0ff2", "f94344e4.9cd718"},
    },
    # House control. Broker 'Hem' with clientid 'Node-RED-hem' (HA103), 2 plain mqtt in (HA101).
    # HA110: the cronplus 'hourly price adjustment' and the inject repeating 60 s inside running
    # subflows, the suncron 'Sun down', the 60 s inject 'names' and the cron inject 'Daily'.
    # The ui_time_scheduler is a ui_ node and counted by HA140 (3 tabs); the two ui_template on
    # the disabled tab 'Plotly' are not.
    "015__per42__nodered-house-embla__flows_raspberrypi.json": {
        "HA101": {"0baa9713225bfd04", "accf4fe82654bbd3"},
        "HA103": {"5269a148.9a1bd"},
        "HA110": {"1434e97e58c79c6a", "827fe14d.8e0f1", "8fa6362492269c64", "937e075312938ab4", "c53ca1e996d473c2"},
        "HA140": {"0da30667a1d02274", "2a44cced.04dc14", "c208375a.5070e8"},
    },
    # HTTP API with 31 http in: every one reaches an http response (some through long function
    # chains): no HA150. One 60 s inject 'Every 60 s' on 'IPAWS Alerts' (HA110); the startup
    # injects are once-only.
    "023__Illinois-Wing-Team-Awearness-Kit__infra-TAK__nodered_flows.json": {
        "HA110": {"flow_ipaws_timer_inj"},
    },
    # RV coach bridge on an MQTT v5 broker. 19 mqtt in, one disabled ('Start/Stop Generator'):
    # 18 HA101. They all have `nl: false`, so no HA104 despite v5. Both http in are answered.
    "024__dbergl__coach2mqtt__node-red-data_flows.json": {
        "HA101": {"11a22a163de4bdeb", "262f70e78be05140", "36ea8dbc04c2896d", "40a09cf8762e20fc", "44fea75c5f8e6724", "45fe68c62ecda7d2", "5ebc3701f2d87b16", "6f87d76a19b86c29", "72f8f28cb6aa5cde", "87f7ce4eef5630c0", "8d7abbd8f26fc3d4", "9344180afa8c6abb", "ae210c14b36c6658", "b524736fd0721f3e", "c007cf0a8f6ecb9d", "c18dc8fc98a493de", "c5f8bdad3c8514d0", "f8167042542871b6"},
    },
    # IIoT sorting station. Broker 'Mosquitto Local' with clientid 'nodered_iiot_planta'
    # (HA103); 4 plain mqtt in (HA101). Three modbus-read polling every 500 ms and an inject
    # every 2 s (HA110). Dashboards on 4 tabs (HA140). http in /report is answered.
    "029__Felipe-JDA__iiot-sorting-station__nodered_flows.json": {
        "HA101": {"mqtt_in_qr_bypass", "mqtt_in_vision_img", "mqtt_in_vision_result", "mqtt_in_vision_status"},
        "HA103": {"cfg_mqtt"},
        "HA110": {"inject_poll_alertas", "mb_read_process", "mb_read_sensors", "mb_read_vision"},
        "HA140": {"flow_dashboard", "flow_datos", "flow_plc", "flow_vision"},
    },
    # Pump monitoring. Four repeating injects (60 s, 10 s, 2 s, 5 s): HA110; 'on-init' is once-only.
    # The websocket out on the listener broadcasts states (HA121). All 8 http in are answered.
    "040__leontev-vyacheslav__eta-node-red__flow-space_flows.json": {
        "HA110": {"03e587130931a889", "04a22057bd75906f", "4d65ff37e6d2771a", "abf540bef0e1bad8"},
        "HA121": {"3a29c46091b22441"},
    },
    # Xiaomi example. The only mqtt in subscribes dynamically (`inputs: 1`): HA102, not HA101. The
    # 'EMQX broker' with birth/close/will topics is used by no node, so it does not connect: no
    # HA105. The inject 'Heartbeat' repeats every 5 s (HA110).
    "043__2SmartCloud__2smart-cloud-node-red-xiaomi-example__flows.json": {
        "HA102": {"25b3692d6f91a4a2"},
        "HA110": {"635ee17db10aa74a"},
    },
    # PLC over serial. The `serial in` opens /dev/ttyUSB0 (HA120). Of the ui_ nodes only the
    # ui_switch 'LED A' is a widget (the rest are ui_base/ui_tab/ui_group config): one HA140.
    # The http in /lamp/:address is answered.
    "052__meipra__plc-node-red__flows_raspberrypi.json": {
        "HA120": {"6dd1c0a4.de31f"},
        "HA140": {"e20ea61b.108288"},
    },
    # Azure IoT Hub gateway. The broker's clientid is the literal '{deviceId}' (a placeholder, not
    # an env substitution): HA103; it also has birth/will topics (HA105). The mqtt in on
    # $iothub/methods/POST/# is plain (HA101); IoT Hub allows one connection per device id, so
    # this flow cannot run on two copies at all, which HA103 says.
    "054__EugenioIoT__eugenio-gateway-nodered__data_flows.json": {
        "HA101": {"9a663f3.f49f9c"},
        "HA103": {"a72218c2.01b408"},
        "HA105": {"a72218c2.01b408"},
    },
    # SCADA demo. Broker host/port are `${MQTT_HOST}`/`${MQTT_PORT}`, but the clientid
    # 'node-red-optiscada-clean' is fixed (HA103). One plain mqtt in (HA101), one 5 s inject
    # (HA110); the http in /healthz is answered.
    "058__antoniot73__processmind-scada__data_flows.json": {
        "HA101": {"2248bef3a2c848cd"},
        "HA103": {"1adf808855039352"},
        "HA110": {"cd04d52b923c2704"},
    },
    # Tiny MQTT -> websocket bridge: one plain mqtt in (HA101); the websocket out 'To Dashboard' on
    # the listener /ws broadcasts to browsers (HA121). The broker has no client id.
    "064__io-openbox__predictive-maintenance-system__node-red-config.json": {
        "HA101": {"mqtt-in"},
        "HA121": {"websocket-out"},
    },
    # Orange Live Objects samples. Both brokers have fixed client ids and running users (mqtt in /
    # mqtt out): two HA103. The mqtt in on fifo/myFIFO is plain (HA101). The inject on crontab
    # '*/30 0-23 * * *' (HA110). The http in /transform is answered.
    "068__DatavenueLiveObjects__node-red-Flows-samples-on-Orange-Live-Objects-data__flow_samples.json": {
        "HA101": {"9fd2cd5e.01fa28"},
        "HA103": {"37c509b3.9c2ab6", "fee6051f.6515"},
        "HA110": {"a5650751.5efb98"},
    },
    # Modbus over HTTP example: 5 http in reach their http response through link out/link in
    # pairs (no HA150). The modbus-server on port 10502 is a listener (HA120).
    "080__BiancoRoyal__node-red-contrib-modbus__examples_Modbus-HTTP.json": {
        "HA120": {"29b7c24fff33f158"},
    },
    # 19 tabs. Three websocket listeners, but only /ws/deep-research runs: its websocket out
    # broadcasts (HA121); the websocket in is not reported. 8 of the 9 http in are on disabled
    # tabs; the running /deep-research one is answered. The 5 s inject is on a disabled tab.
    "093__4arturas__node-red__flows.json": {
        "HA121": {"c305ffb410c4f1ae"},
    },
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.mark.parametrize("name", sorted(PINNED), ids=lambda n: n[:3])
def test_routing_findings_are_pinned(name, catalog, corpus):
    path = corpus / "files" / name
    assert path.is_file(), f"corpus file missing: {path}"
    flow = read_source(discover([str(path)])[0])
    result = check_one(flow, catalog, Config(select=("HA1",)))
    assert not [f for f in result.findings if f.rule_id == "HC000"], "a rule crashed"
    got: dict[str, set[str]] = {}
    for f in result.findings:
        if f.rule_id.startswith("HA1"):
            got.setdefault(f.rule_id, set()).add(f.node_id)
    want = PINNED[name]
    for rule in sorted(set(got) | set(want)):
        assert got.get(rule, set()) == want.get(rule, set()), (
            f"{rule}: new {sorted(got.get(rule, set()) - want.get(rule, set()))}, "
            f"gone {sorted(want.get(rule, set()) - got.get(rule, set()))}"
        )


def test_no_finding_is_reported_twice(catalog, corpus):
    """One node, one finding per rule: a node reached through several subflow instances or
    paths must not be listed once per path."""
    for name in sorted(PINNED):
        flow = read_source(discover([str(corpus / "files" / name)])[0])
        result = check_one(flow, catalog, Config(select=("HA1",)))
        keys = [(f.rule_id, f.node_id, f.path, f.detail) for f in result.findings if f.rule_id.startswith("HA1")]
        assert len(keys) == len(set(keys)), name
