"""HA200-HA203 and SEC301 on real flows: findings reviewed by hand and pinned.

Each entry names what was checked in the flow (its function code, its inputs, what feeds
each context write and stateful node). A change to the rules that moves any of these
findings must come with a new review, not a new list.
"""

from __future__ import annotations

import pytest

from hacheck.model.config import Config
from hacheck.load.loader import parse_bytes
from hacheck.run.runner import check_one
from tests.conftest import _catalog, corpus_dir

MINE = ("HA200", "HA201", "HA202", "HA203", "SEC301")

REVIEWED = {
    # 95 functions use context, 6 http in API routes. The route handlers only *read* global
    # context (utils, homeassistant); it is written by flows fed by Home Assistant events
    # (every copy has its own websocket and gets every event) and by injects. The triggers,
    # joins and rate delays are fed by those events, injects and subflow outputs that no
    # load-balanced input reaches. Nothing load-balanced writes state.
    "001__David-SKB__home-assistant-node-red__flows.json": set(),
    # websocket in on a listener is load-balanced, but it reaches no context write and no
    # stateful node; the writers are fed by a tcp in, a ping, an inject, or nothing wired.
    "005__DaveThw__EosRemote__node-red_flows.json": set(),
    # Real HA bugs: bands and concerts data and users_on_efir written by http in routes and
    # read by other nodes. Since the effect model: the like counters (now_event_likes,
    # now_track_likes: the key is a variable bound once to a literal, now resolved) are never
    # read from context (the count lives in redis), and now_on_scene/efir (from the redis-in
    # BLPOP queue) are read back only by the manual 'reset efir' inject's flow, which no one
    # can start on an HA instance: not reported (tests/truth/007...yaml labels them silent).
    # The custom joins after a split re-join one request's sequence: not HA201.
    "007__ti-rudin__back.raptver__node-red-data_flows.json": {
        ("HA202", "20fc07374ab0f37d"),  # global.set('users_on_efir') from POST /get-efir2
        ("HA202", "6cc28d806663e746"),  # bands data from POST /bands-data-update
        ("HA202", "c39429d731db8789"),  # concerts data from POST /bands-data-update
    },
    # ROS2 and dashboard flows, no load-balanced input at all.
    "009__DroneBlocks__node-red-dexi__flows_flows.json": set(),
    # http GET /currenttime only formats the time; Global Definitions is fed by an inject,
    # the trigger by a plain mqtt in.
    "013__pascal1062__domotik-flows__flows_raspberrypi.json": set(),
    # A configurator API: every save/delete/restore route writes its config into global
    # context, so in HA the other copy keeps serving the old config. The init, migrate,
    # cleanup and KML cache functions are fed by injects and are quiet.
    "023__Illinois-Wing-Team-Awearness-Kit__infra-TAK__nodered_flows.json": {
        ("HA202", n)
        for n in (
            "flow_ipaws_fn_save_cfg", "flow_pulsepoint_cfg_fn_del", "flow_pulsepoint_cfg_fn_save",
            "fn_cfg_restore", "fn_deploy_restore", "fn_force_sub", "fn_purge", "fn_save",
            "fn_saveall", "fn_tak_save", "fn_tc_delete", "fn_tc_save", "fn_tc_units_save",
        )
    },
    # Sensor parsers write flow/global context from Modbus polls, a 2 s inject and a plain
    # mqtt in; the http GET /report route only reads; the anti-flooding rate delay is fed by
    # the Modbus poll and the inject.
    "029__Felipe-JDA__iiot-sorting-station__nodered_flows.json": set(),
    # POST /api/set-state stores msg.res in flow context and reads it back after the Modbus
    # write, further down the same path (link out/in, link out/in): the read happens on the
    # copy that wrote it, so it is not reported. The other writes are fed by timers.
    "040__leontev-vyacheslav__eta-node-red__flow-space_flows.json": set(),
    # The simulation writes global context from an inject; GET /healthz only reads.
    "058__antoniot73__processmind-scada__data_flows.json": set(),
    # The change nodes that store and delete context are fed by a plain mqtt in.
    "068__DatavenueLiveObjects__node-red-Flows-samples-on-Orange-Live-Objects-data__flow_samples.json": set(),
    # Test-helper routes write global context (POST /context/reset, POST /context/global
    # with a key from the request); 'Store Latest Msg' is fed by dashboard widgets.
    "079__FlowFuse__node-red-dashboard__cypress_fixtures_flows_dashboard-forms.json": {
        ("HA202", "fcn-reset-context"),
        ("HA202", "fcn-store-global"),
    },
    # 'AI Question' keeps a busy flag in node context, fed by a websocket in through link
    # nodes: each copy has its own flag, so two questions can run at once. Its twin
    # (050d6463c944477a) and the Copilot counter are not reached by a load-balanced input.
    "093__4arturas__node-red__flows.json": {("HA202", "c754e41cbcc1b7b2")},
    # rbe, joins and the auto-off trigger are all fed by plain mqtt subscriptions (every copy
    # gets every message; HA101 reports the subscriptions themselves).
    "024__dbergl__coach2mqtt__node-red-data_flows.json": set(),
}


def _findings(name: str):
    path = corpus_dir() / "files" / name  # its callers take the `corpus` fixture
    assert path.is_file(), f"corpus file missing: {path}"
    flow = parse_bytes(name, path.read_bytes())
    return [f for f in check_one(flow, _catalog(), Config(select=MINE)).findings if f.rule_id in MINE]


@pytest.mark.parametrize("name", sorted(REVIEWED), ids=lambda n: n[:3])
def test_reviewed_corpus_findings(name, corpus):
    got = {(f.rule_id, f.node_id) for f in _findings(name)}
    assert got == REVIEWED[name]


def test_reviewed_findings_say_where_the_messages_come_from(corpus):
    by_node = {f.node_id: f for f in _findings("007__ti-rudin__back.raptver__node-red-data_flows.json")}
    bands = by_node["6cc28d806663e746"]
    assert "http in POST /bands-data-update -> function 'bands data' -> split -> join -> function 'bands data'" in bands.message
    assert "global context 'bands'" in bands.message and "read by function 'reduce '" in bands.message
    users = by_node["20fc07374ab0f37d"]
    assert "read by function 'user stat calculate every 2 sec'" in users.message
    (ws,) = _findings("093__4arturas__node-red__flows.json")
    assert "websocket in /ws/deep-research -> link out" in ws.message and "node context 'busy'" in ws.message


def test_no_function_in_the_corpus_fails_to_parse(corpus):
    """tree-sitter reads every function of the real flows: HA200 stays quiet on all of them."""
    for path in sorted((corpus / "files").glob("*.json")):
        flow = parse_bytes(path.name, path.read_bytes())
        found = [f for f in check_one(flow, _catalog(), Config(select=("HA200",))).findings if f.rule_id == "HA200"]
        assert found == [], (path.name, [f.message for f in found])
