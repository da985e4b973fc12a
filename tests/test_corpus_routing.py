"""HA1xx findings on real flows, pinned after a review by hand.

Each entry lists every HA1xx finding (rule -> node ids) on one corpus flow; the comment above it
says what was checked: that each finding is right, and that what is not reported should not be.
A change to a routing rule that adds or drops a finding on these flows fails here, so the
change has to be looked at against real flows.
"""

from __future__ import annotations

import pytest

from hacheck.engine.catalog import load_catalog
from hacheck.model.config import Config
from hacheck.load.loader import discover, read_source
from hacheck.run.runner import check_one

PINNED: dict[str, dict[str, set[str]]] = {
    # Home Assistant flow, 1205 nodes, 42 subflows, 226 disabled nodes. The 3 repeating injects
    # are all disabled (two sit on disabled tabs too): no HA110. Of the 7 ui_ nodes, ui_base is
    # unused, ui_tab/ui_group are config nodes and the ui_chart is disabled; the ui_template
    # ('anything', tab 'Subflow Manager') and the two ui_audio 'ECHO' (tab 'API Integrations')
    # run: one HA140 per tab. The `watch` on /config/flows.json sits in the subflow 'On Deploy /
    # Change', which has a running instance: HA120. All 6 http in reach an http response: no
    # HA150. No MQTT.
    # Since the effect model (issues 19, 20): +23 HA107 (Home Assistant event nodes whose events reach service calls: toggles
    # that cancel out, counters moved twice, notifications sent twice), +1 HA111 (a run-once inject
    # reaching a service call), +3 HA123 (the Home Assistant server configs reach Home Assistant
    # through the add-on's local supervisor).
    # Issue 30: -HA111 on 'On Full Deploy' (a debatable label): what its start-up path reaches
    # first are file nodes replacing whole registry files (overwrite), which HA111 no longer
    # counts (at each copy's start it does what one instance does at each restart).
    # (Each node's reason: tests/truth/001__David-SKB__home-assistant-node-red__flows.json.yaml.)
    "001__David-SKB__home-assistant-node-red__flows.json": {
        "HA107": {"0811b6b51da6b228", "1faad3c887dfe5c5", "254ca030.d01d08", "2b067f17.d7d94", "2c357ca0.9e173c", "3c6775a2ebf09024", "42a722f8accaab32", "48ef7e25.169d5", "633969c9f406fcc6", "6dd62b9f5eec86c3", "75490e5d.7c8f6", "84cb5818.f68218", "8529b1d7.d7e25", "8f96fab0f6a08024", "92e874dc2e3aeb1c", "9da6799230065c79", "a08ca6c1ed98521a", "a458713b.90235", "a79fce9e.6d1c1", "ad4f2e9d.99788", "ed20d1f.2d36e3", "f69b3ca.3ffe7c", "ff6c8eb5f8f4014d"},
        "HA120": {"a9b88fac6ee81cda"},
        "HA123": {"3edfacf2.b3d2c4", "575e2eea.2cdb1", "5e6a682a.ce8468"},
        "HA140": {"209313b8aacac5d0", "ac943ec51aa6c81e"},
    },
    # Nearly every tab is disabled (tcp/udp listeners, dashboards, websockets, a second ping):
    # nothing there is reported. On the running tab 'Flow 1': the ping 'Ping the Desk' has
    # `timer: 20` and no `mode`, so it pings every 20 s (HA110); the websocket out on the
    # listener /ws/osc broadcasts (HA121). Not reported, rightly: the websocket in on the same
    # listener (load-balanced like HTTP), the tcp in in client mode, injects without repeat.
    # Since the effect model (issues 19, 20): -HA110 on the ping (it feeds only a websocket out to the copy's own browsers, a
    # cache and debugs), -HA121 (no load-balanced input broadcasts: the only one is the /osc/init
    # reply, which goes back to the requester's copy).
    # (Each node's reason: tests/truth/005__DaveThw__EosRemote__node-red_flows.json.yaml.)
    "005__DaveThw__EosRemote__node-red_flows.json": {
    },
    # Factory model with one broker 'LocalBroker', clientid 'Node-RED' (HA103, used by 34 running
    # nodes). All 23 mqtt in are plain topics, 3 of them inside subflows with running instances
    # (cc90405b078b72d5, 831e8b50ae9d9067, 5f93a9aafc470689): HA101 each. 31 running ui_ widgets
    # on two tabs: two HA140. The ~40 injects are manual buttons (no repeat): no HA110.
    # Since the effect model (issues 19, 20): -22 HA101: those subscriptions only feed dashboard widgets and debugs; 5f93a9aa
    # stays (it reaches mqtt out 'f/move').
    # (Each node's reason: tests/truth/010__Marius998__PP-NodeRED-Fitech4.0__flows_flows.json.yaml.)
    "010__Marius998__PP-NodeRED-Fitech4.0__flows_flows.json": {
        "HA101": {"5f93a9aafc470689"},
        "HA103": {"fa600c20.8a9c9"},
        "HA140": {"8ef1fe78.3886c", "d99ca802.0da3f8"},
    },
    # Ethernet/IP backup file. 43 `eth-ip in` nodes read the PLC endpoint 'PLC_SimFactory'
    # (cycletime 1500 ms) and send every change: each copy would poll the PLC and emit the
    # changes, HA110 on each. 12 injects repeat (1 s to 300 s): HA110. 4 plain mqtt in on the
    # HiveMQ Cloud broker: HA101; that broker has no client id and no birth/will: no HA103/HA105.
    # Since the effect model (issues 19, 20): -36 HA110: those eth-ip in only append to per-copy flow-context arrays; the 18
    # left reach mongodb4 inserts or PLC writes.
    # (Each node's reason: its label in tests/truth/.)
    "012__EasyTek-Automation__EasyTek-Data__node-red-config_.flows.json.backup": {
        "HA101": {"0b17e216e3b15a12", "577cfec5ec5d9117", "7dc34cd22c3bf5dd", "fd76f6768882146b"},
        "HA110": {"0437624de1c83b72", "0b8e1d71d2332d50", "35813b25a20be761", "486d8bb3fd6c37f2", "4e62af48bbe8f39d", "5ddfee189c6d7a42", "631ba67d45f072a8", "8ec8da8ce218259d", "95d7920f39e71274", "96f8a188a92b099a", "998ff6fa59428732", "aefaec5651f54cb3", "d4951f0a89dcdf02", "d5abee1091f8dae1", "dbace61b8d33689b", "e32d1ce8d9378a47", "ec8e6e345fafd9eb", "f04a02324e9d2306", "f07c54ddaa5125e0"},
    },
    # Home automation. 6 plain mqtt in (HA101). 7 injects repeat 60 s to 900 s (HA110, incl.
    # 'once: true' ones that also repeat) and 9 bigtimers switching lights on their own schedule
    # (HA110); the two 'once' injects without repeat on 'Arrosage' are not reported. A `tcp in`
    # server on port 47900 (HA120). The broker 'Domotik-Broker' has no client id: no HA103.
    # Dashboard widgets on 'Web GUI' only: one HA140. The http in /currenttime is answered.
    # Since the effect model (issues 19, 20): -6 HA101 and the publishes to 'led-*-state': the broker is on localhost, each
    # copy's own (HA123 on it); +2 HA107 (wemo in events, republished through the local broker to
    # wemo out: each copy switches the lamp); the 9 bigtimers move from HA110 to HA112; -4 HA110 on
    # injects that feed displays or the local broker; +1 HA111 ('Inject Off at startup' closes the
    # valve over HTTP at each start).
    # (Each node's reason: tests/truth/013__pascal1062__domotik-flows__flows_raspberrypi.json.yaml.)
    # Issue 30: the broker 'Domotik-Broker' at localhost is judged as the one shared broker it
    # must become on HA (localhost_services: shared): +5 HA101 (plain subscriptions that switch
    # lamps and valves), +HA110 (the 60 s Yun poll republishing to it), +HA111 (the start-up
    # publish 'valve-jardin/time'); the truth labels were relabelled fire with the same reason.
    "013__pascal1062__domotik-flows__flows_raspberrypi.json": {
        "HA101": {"3bd0323f.e3860e", "89c228fb.daef28", "913940ce.0b5a", "994d5739.3ac958", "a117be1.cb16d4"},
        "HA107": {"28a1fc1.9442c04", "756bebc4.c62fa4"},
        "HA110": {"d1a1234.1b288e", "fe33566.ea893a8"},
        "HA111": {"6dc363cb.9d23dc", "9dc90e2b.cb4f"},
        "HA112": {"24030102.4e5c8e", "5526b0ad.c400c", "5807ec38.330134", "6e3386bb.785848", "8941cdb7.a3a17", "a6f90a8e.e7e328", "e5aa3d2e.8f9eb", "e62f04a3.c3d398", "ef3d9c0c.41a71"},
        "HA120": {"b4e9a044.e3f7e"},
        "HA123": {"675e8ce1.20f904"},
        "HA140": {"5052fb75.8383a4"},
    },
    # MQTT + dashboard. 37 plain mqtt in (HA101); the broker has an empty client id (no HA103) but
    # birth, close and will topics bigTower/hi|bye|dying (HA105). 11 repeating injects, from
    # every 30 s to every 12 h (HA110); the 'once'-only injects are not reported. Two `udp in`
    # listeners, ports 9090 and 30303 (HA120). Dashboards on 5 tabs (HA140).
    # Since the effect model (issues 19, 20): -35 HA101 (paths end in widgets, some of them switches without pass-through that
    # stop the message; the two left publish commands); -5 HA110 (display refreshes); +4 HA111 (at
    # each start, ssh to a remote host and restart a service).
    # (Each node's reason: tests/truth/014__xmayeur__nodered__node-red-data_flows.json.yaml.)
    "014__xmayeur__nodered__node-red-data_flows.json": {
        "HA101": {"7f89f4ff.9e390c", "b25d27e8.240e18"},
        "HA105": {"e29f85d0.5a40a8"},
        "HA110": {"4cadd74e.741708", "6a1e037.18fd1fc", "c3b6df3b.e1429", "c47bffac.d4e9e", "d9313135.67faf", "fa1d9fbc.53f26"},
        "HA111": {"1c10d80.8ca5b28", "1f75a02a.fdae6", "bcd2e46c.59c3c8", "dbf6cc5.5026a3"},
        "HA120": {"6a2c47b3.8c0228", "6f08378e.594f68"},
        "HA140": {"7e596646.ff51a8", "8de34dec.0311b", "e460325d.9cdbf", "e85d4797.c0ff2", "f94344e4.9cd718"},
    },
    # House control. Broker 'Hem' with clientid 'Node-RED-hem' (HA103), 2 plain mqtt in (HA101).
    # HA110: the cronplus 'hourly price adjustment' and the inject repeating 60 s inside running
    # subflows, the suncron 'Sun down', the 60 s inject 'names' and the cron inject 'Daily'.
    # The ui_time_scheduler is a ui_ node and counted by HA140 (3 tabs); the two ui_template on
    # the disabled tab 'Plotly' are not.
    # Since the effect model (issues 19, 20): -2 HA101 (they reach only widgets and debugs, the link goes to a disabled tab);
    # cronplus and suncron move from HA110 to HA112, with ui_time_scheduler (a scheduler the
    # catalogue knows); +4 HA111 (lights and heat-pump settings written at each start); +1 HA108
    # (the Alexa skill connection's client id is the account name).
    # (Each node's reason: tests/truth/015__per42__nodered-house-embla__flows_raspberrypi.json.yaml.)
    "015__per42__nodered-house-embla__flows_raspberrypi.json": {
        "HA103": {"5269a148.9a1bd"},
        "HA108": {"a4d69f5b.c8b3b"},
        "HA110": {"1434e97e58c79c6a", "8fa6362492269c64", "937e075312938ab4"},
        "HA111": {"21aae0bb.080e3", "5a0561128a8b2e8c", "9a8b89cc.c41e38", "df2488b7c762d11e"},
        "HA112": {"79c6cfaf.7a486", "827fe14d.8e0f1", "c53ca1e996d473c2"},
        "HA140": {"0da30667a1d02274", "2a44cced.04dc14", "c208375a.5070e8"},
    },
    # HTTP API with 31 http in: every one reaches an http response (some through long function
    # chains): no HA150. One 60 s inject 'Every 60 s' on 'IPAWS Alerts' (HA110); the startup
    # injects are once-only.
    # Since the effect model (issues 19, 20): -HA110 on the IPAWS timer: it only GETs weather alerts into a per-copy cache
    # (the function before the http request sets msg.method GET).
    # (Each node's reason: tests/truth/023__Illinois-Wing-Team-Awearness-Kit__infra-TAK__nodered_flows.json.yaml.)
    "023__Illinois-Wing-Team-Awearness-Kit__infra-TAK__nodered_flows.json": {
    },
    # RV coach bridge on an MQTT v5 broker. 19 mqtt in, one disabled ('Start/Stop Generator'):
    # 18 HA101. They all have `nl: false`, so no HA104 despite v5. Both http in are answered.
    "024__dbergl__coach2mqtt__node-red-data_flows.json": {
        "HA101": {"11a22a163de4bdeb", "262f70e78be05140", "36ea8dbc04c2896d", "40a09cf8762e20fc", "44fea75c5f8e6724", "45fe68c62ecda7d2", "5ebc3701f2d87b16", "6f87d76a19b86c29", "72f8f28cb6aa5cde", "87f7ce4eef5630c0", "8d7abbd8f26fc3d4", "9344180afa8c6abb", "ae210c14b36c6658", "b524736fd0721f3e", "c007cf0a8f6ecb9d", "c18dc8fc98a493de", "c5f8bdad3c8514d0", "f8167042542871b6"},
    },
    # IIoT sorting station. Broker 'Mosquitto Local' with clientid 'nodered_iiot_planta'
    # (HA103); 4 plain mqtt in (HA101). Three modbus-read polling every 500 ms and an inject
    # every 2 s (HA110). Dashboards on 4 tabs (HA140). http in /report is answered.
    # Since the effect model (issues 19, 20): the broker cfg_mqtt is on 127.0.0.1, each copy's own: -4 HA101, -HA103, +HA123
    # (with the Modbus client on 127.0.0.1); -2 HA110 (polls that reach only that local broker and
    # displays); +HA108 (the Telegram bot polls with its token).
    # (Each node's reason: tests/truth/029__Felipe-JDA__iiot-sorting-station__nodered_flows.json.yaml.)
    # Issue 30: 'Mosquitto Local' at 127.0.0.1 is judged as the shared broker it must become:
    # +HA101 (the plain 'planta/vision/qr_color' reaches the PLC writes), +HA103 (its fixed client
    # id 'nodered_iiot_planta' would make the copies take the session from each other).
    "029__Felipe-JDA__iiot-sorting-station__nodered_flows.json": {
        "HA101": {"mqtt_in_qr_bypass"},
        "HA103": {"cfg_mqtt"},
        "HA108": {"cfg_telegram"},
        "HA110": {"inject_poll_alertas", "mb_read_process"},
        "HA123": {"cfg_modbus", "cfg_mqtt"},
        "HA140": {"flow_dashboard", "flow_datos", "flow_plc", "flow_vision"},
    },
    # Pump monitoring. Four repeating injects (60 s, 10 s, 2 s, 5 s): HA110; 'on-init' is once-only.
    # The websocket out on the listener broadcasts states (HA121). All 8 http in are answered.
    # Since the effect model (issues 19, 20): -4 HA110 (a connection switch, Modbus reads into a cache, a push to the copy's
    # own websocket clients); -HA121 (only the timer feeds it: each copy broadcasts to its own
    # clients).
    # (Each node's reason: tests/truth/040__leontev-vyacheslav__eta-node-red__flow-space_flows.json.yaml.)
    "040__leontev-vyacheslav__eta-node-red__flow-space_flows.json": {
    },
    # Xiaomi example. The only mqtt in subscribes dynamically (`inputs: 1`): HA102, not HA101. The
    # 'EMQX broker' with birth/close/will topics is used by no node, so it does not connect: no
    # HA105. The inject 'Heartbeat' repeats every 5 s (HA110).
    # Since the effect model (issues 19, 20): -HA102 (its output is unwired), -HA110 on 'Heartbeat' (a keep-alive); +HA107 and
    # +HA120 on the xiaomi-gateway (every copy joins the gateway's multicast group on UDP 9898 and
    # publishes each report to the cloud).
    # (Each node's reason: tests/truth/043__2SmartCloud__2smart-cloud-node-red-xiaomi-example__flows.json.yaml.)
    "043__2SmartCloud__2smart-cloud-node-red-xiaomi-example__flows.json": {
        "HA107": {"c9a629ca753514f9"},
        "HA120": {"c9a629ca753514f9"},
    },
    # PLC over serial. The `serial in` opens /dev/ttyUSB0 (HA120). Of the ui_ nodes only the
    # ui_switch 'LED A' is a widget (the rest are ui_base/ui_tab/ui_group config): one HA140.
    # The http in /lamp/:address is answered.
    # Since the effect model (issues 19, 20): +HA122: the serial out is fed by the load-balanced POST /lamp.
    # (Each node's reason: tests/truth/052__meipra__plc-node-red__flows_raspberrypi.json.yaml.)
    "052__meipra__plc-node-red__flows_raspberrypi.json": {
        "HA120": {"6dd1c0a4.de31f"},
        "HA122": {"373648db.dcd968"},
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
    # Since the effect model (issues 19, 20): -HA101: the subscription only feeds a debug.
    # (Each node's reason: tests/truth/058__antoniot73__processmind-scada__data_flows.json.yaml.)
    "058__antoniot73__processmind-scada__data_flows.json": {
        "HA103": {"1adf808855039352"},
        "HA110": {"cd04d52b923c2704"},
    },
    # Tiny MQTT -> websocket bridge: one plain mqtt in (HA101); the websocket out 'To Dashboard' on
    # the listener /ws broadcasts to browsers (HA121). The broker has no client id.
    # Since the effect model (issues 19, 20): -HA101 (it only feeds a websocket out to each copy's own clients), -HA121 (no
    # load-balanced input reaches that websocket out).
    # (Each node's reason: tests/truth/064__io-openbox__predictive-maintenance-system__node-red-config.json.yaml.)
    "064__io-openbox__predictive-maintenance-system__node-red-config.json": {
    },
    # Orange Live Objects samples. Both brokers have fixed client ids and running users (mqtt in /
    # mqtt out): two HA103. The mqtt in on fifo/myFIFO is plain (HA101). The inject on crontab
    # '*/30 0-23 * * *' (HA110). The http in /transform is answered.
    # Since the effect model (issues 19, 20): -HA101: the path ends in global context and a debug.
    # (Each node's reason: its label in tests/truth/.)
    "068__DatavenueLiveObjects__node-red-Flows-samples-on-Orange-Live-Objects-data__flow_samples.json": {
        "HA103": {"37c509b3.9c2ab6", "fee6051f.6515"},
        "HA110": {"a5650751.5efb98"},
    },
    # Modbus over HTTP example: 5 http in reach their http response through link out/link in
    # pairs (no HA150). The modbus-server on port 10502 is a listener (HA120).
    # Since the effect model (issues 19, 20): +HA123: the modbus-client talks to 127.0.0.1:10502, each copy's own in-memory
    # Modbus server.
    # (Each node's reason: tests/truth/080__BiancoRoyal__node-red-contrib-modbus__examples_Modbus-HTTP.json.yaml.)
    "080__BiancoRoyal__node-red-contrib-modbus__examples_Modbus-HTTP.json": {
        "HA120": {"29b7c24fff33f158"},
        "HA123": {"b285e1db.3e77d8"},
    },
    # 19 tabs. Three websocket listeners, but only /ws/deep-research runs: its websocket out
    # broadcasts (HA121); the websocket in is not reported. 8 of the 9 http in are on disabled
    # tabs; the running /deep-research one is answered. The 5 s inject is on a disabled tab.
    # Since the effect model (issues 19, 20): -HA121 (the websocket out answers the socket that asked: msg._session is kept),
    # +5 HA123 (chat-ollama on http://localhost:11434).
    # (Each node's reason: tests/truth/093__4arturas__node-red__flows.json.yaml.)
    "093__4arturas__node-red__flows.json": {
        "HA123": {"1e439042ab46cfda", "1e84395e17694747", "70ca190b6917284f", "bc46f6d8c2d0458d", "d018a22df72f545e"},
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
