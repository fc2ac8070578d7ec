## Socket pairs used the way a game uses connections: send and receive, poll groups, user data,
## names, lanes, status, closing, and the status-changed signal, including handlers that call
## back into the singleton.
extends "res://tests/support/test_case.gd"

const Contract = preload("res://tests/support/contract.gd")

var contract := Contract.load_contract()
var status_events: Array = []


func _on_status_changed(handle: int, info: Dictionary, old_state: int) -> void:
	status_events.append([handle, info, old_state])


func _listen() -> void:
	status_events.clear()
	S.network_connection_status_changed.connect(_on_status_changed)


func _unlisten() -> void:
	if S.network_connection_status_changed.is_connected(_on_status_changed):
		S.network_connection_status_changed.disconnect(_on_status_changed)


func cleanup() -> void:
	_unlisten()
	super.cleanup()


func test_pair_starts_connected_with_contract_shaped_info() -> void:
	var pair := make_pair(76561197960287930, 76561197960287931)
	var info: Dictionary = S.getConnectionInfo(pair[0])
	check_keys(info, Contract.return_keys(contract, "getConnectionInfo"), "getConnectionInfo")
	check_eq(info["connection_state"], S.CONNECTION_STATE_CONNECTED, "state")
	check_eq(info["identity"], 76561197960287931, "connection 1 sees identity 2 as its remote")
	check_eq(S.getConnectionInfo(pair[1])["identity"], 76561197960287930, "and the other way round")
	check_eq(info["listen_socket"], 0, "not from a listen socket")
	check_eq(info["end_reason"], 0, "no end reason while alive")
	check_eq(info["user_data"], -1, "user data unset")
	check(info["info_flags"] & S.NETWORKING_CONNECTION_INFO_FLAG_LOOPBACK_BUFFERS != 0, "loopback buffers flag")
	check_eq(info["remote_address"], "::", "no network address")


func test_messages_round_trip_in_order() -> void:
	var pair := make_pair()
	var sent: Array[int] = []
	for i in 20:
		var flags := S.NETWORKING_SEND_RELIABLE if i % 2 == 0 else S.NETWORKING_SEND_UNRELIABLE
		var r: Dictionary = S.sendMessageToConnection(pair[0], ("msg %d" % i).to_utf8_buffer(), flags)
		check_keys(r, Contract.return_keys(contract, "sendMessageToConnection"), "sendMessageToConnection")
		check_eq(r["result"], S.RESULT_OK, "send %d" % i)
		sent.append(r["message_number"])
	check_eq(sent, range(1, 21), "message numbers count from 1")
	S.setConnectionUserData(pair[1], 4242)
	var got: Array = S.receiveMessagesOnConnection(pair[1], 100)
	check_eq(got.size(), 20, "all 20 arrive")
	for i in got.size():
		var m: Dictionary = got[i]
		check_keys(m, Contract.return_keys(contract, "receiveMessagesOnConnection"), "message")
		check_eq(m["payload"].get_string_from_utf8(), "msg %d" % i, "payload %d in order" % i)
		check_eq(m["size"], m["payload"].size(), "size matches payload")
		check_eq(m["connection"], pair[1], "arrived on the receiving handle")
		check_eq(m["message_number"], i + 1, "sender's number")
		check_eq(m["flags"], S.NETWORKING_SEND_RELIABLE if i % 2 == 0 else 0, "reliable bit")
		check_eq(m["receiver_user_data"], 4242, "receiver user data")
	check(got[19]["time_received"] >= got[0]["time_received"], "timestamps do not go backwards")
	check_eq(S.receiveMessagesOnConnection(pair[1], 100), [], "queue is empty after reading")
	# Each message is a Dictionary of its own, with a payload of its own (the extension builds
	# them through the engine's C interface; a shared or freed one would show here or crash).
	var first: Dictionary = got[0]
	first["size"] = -1
	first["payload"][0] = 0
	check_eq(got[1]["size"], got[1]["payload"].size(), "changing one message leaves the next alone")
	check_eq(got[1]["payload"].get_string_from_utf8(), "msg 1", "payloads are not shared")
	got.clear()
	check_eq(first["payload"].size(), 5, "a message outlives the Array it came in")


func test_send_messages_batch() -> void:
	var pair := make_pair()
	var result: Array = S.sendMessages([PackedByteArray([1]), PackedByteArray([2, 2])], pair[0], S.NETWORKING_SEND_RELIABLE)
	check_eq(result, [1, 2], "batch numbers")
	var got: Array = S.receiveMessagesOnConnection(pair[1], 10)
	check_eq(got.map(func(m): return m["payload"]), [PackedByteArray([1]), PackedByteArray([2, 2])], "batch payloads")


func test_send_messages_on_lanes_and_to_several_connections() -> void:
	# steamnet extension: Dictionary items mirror SteamNetworkingMessage_t (lane, flags, connection).
	var a := make_pair()
	var b := make_pair()
	check_eq(S.configureConnectionLanes(a[0], 3, [0, 0, 0], [1, 1, 1]), S.RESULT_OK, "three lanes on a")
	var result: Array = S.sendMessages([
		{"payload": PackedByteArray([10]), "lane": 2},
		{"payload": PackedByteArray([11]), "lane": 0, "flags": S.NETWORKING_SEND_UNRELIABLE},
		{"payload": PackedByteArray([12]), "connection": b[0]},
		PackedByteArray([13]),
		{"payload": PackedByteArray([14]), "lane": 2},
	], a[0], S.NETWORKING_SEND_RELIABLE)
	check_eq(result, [1, 1, 1, 2, 2], "numbers count per lane and per connection")
	var at_a: Array = S.receiveMessagesOnConnection(a[1], 10)
	var seen: Array = []
	for m in at_a:
		seen.append([m["payload"][0], m["lane"], m["flags"]])
	check_eq(seen, [[10, 2, 8], [11, 0, 0], [13, 0, 8], [14, 2, 8]], "payload, lane and flags arrive as sent")
	var at_b: Array = S.receiveMessagesOnConnection(b[1], 10)
	check_eq(at_b.map(func(m): return m["payload"][0]), [12], "one call reached the other connection too")
	var bad: Array = S.sendMessages([
		{"lane": 0},
		{"payload": "not bytes"},
		{"payload": PackedByteArray([1]), "lane": 3},
		{"payload": PackedByteArray([1]), "lane": -1},
		{"payload": PackedByteArray([1]), "lane": "0"},
		{"payload": PackedByteArray([1]), "connection": 0},
		{"payload": PackedByteArray([1]), "flags": 1 << 40},
	], a[0], S.NETWORKING_SEND_RELIABLE)
	check_eq(bad, [-8, -8, -8, -8, -8, -8, -8], "each bad item gets INVALID_PARAM")


func test_poll_group_serves_many_connections() -> void:
	var a := make_pair()
	var b := make_pair()
	var group := track_poll_group(S.createPollGroup())
	check(group != 0, "poll group handle")
	check_eq(S.setConnectionPollGroup(a[1], group), true, "join a")
	check_eq(S.setConnectionPollGroup(b[1], group), true, "join b")
	S.sendMessageToConnection(a[0], "a1".to_utf8_buffer(), 8)
	S.sendMessageToConnection(b[0], "b1".to_utf8_buffer(), 8)
	S.sendMessageToConnection(a[0], "a2".to_utf8_buffer(), 8)
	var got: Array = S.receiveMessagesOnPollGroup(group, 2)
	check_eq(got.map(func(m): return m["payload"].get_string_from_utf8()), ["a1", "b1"], "first two in arrival order")
	check_eq(got.map(func(m): return m["connection"]), [a[1], b[1]], "connection key demultiplexes")
	got = S.receiveMessagesOnPollGroup(group, 10)
	check_eq(got.map(func(m): return m["payload"].get_string_from_utf8()), ["a2"], "the rest")
	check_eq(S.destroyPollGroup(group), true, "destroy")
	S.sendMessageToConnection(a[0], "after".to_utf8_buffer(), 8)
	check_eq(S.receiveMessagesOnConnection(a[1], 10).size(), 1, "connection still works without its group")


func test_user_data_and_names() -> void:
	var pair := make_pair()
	check_eq(S.setConnectionUserData(pair[0], -9007199254740993), true, "set int64 user data")
	check_eq(S.getConnectionUserData(pair[0]), -9007199254740993, "int64 survives")
	check_eq(S.getConnectionInfo(pair[0])["user_data"], -9007199254740993, "user data in info")
	S.setConnectionName(pair[0], "player one")
	check_eq(S.getConnectionName(pair[0]), "player one", "name")
	check(S.getConnectionInfo(pair[0])["debug_description"].contains("player one"), "name in description")


func test_lanes_and_real_time_status() -> void:
	var pair := make_pair()
	check_eq(S.configureConnectionLanes(pair[0], 3, [2, 1, 1], [1, 3, 1]), S.RESULT_OK, "three lanes")
	var status: Dictionary = S.getConnectionRealTimeStatus(pair[0], 3)
	check_keys(status, Contract.return_keys(contract, "getConnectionRealTimeStatus"), "real-time status")
	check_eq(status["response"], S.RESULT_OK, "response")
	check_keys(status["connection_status"], Contract.nested_keys(contract, "getConnectionRealTimeStatus", "connection_status"), "connection_status")
	check_eq(status["connection_status"]["state"], S.CONNECTION_STATE_CONNECTED, "state")
	check_eq(status["connection_status"]["ping"], 0, "in-process ping")
	check_eq(status["connection_status"]["local_quality"], 1.0, "nothing lost in-process")
	check_eq(status["lanes_status"].size(), 3, "one entry per lane")
	check_keys(status["lanes_status"][0], Contract.nested_keys(contract, "getConnectionRealTimeStatus", "lanes_status"), "lane status")
	check_eq(S.getConnectionRealTimeStatus(pair[0], 0, false), {"response": S.RESULT_OK, "connection_status": {}, "lanes_status": []}, "get_status=false")
	check_eq(S.configureConnectionLanes(pair[0], 2, [0, 0], [1, 1]), S.RESULT_INVALID_PARAM, "lanes never shrink")
	var detail: Dictionary = S.getDetailedConnectionStatus(pair[0])
	check_eq(detail["success"], 0, "detailed status ok")
	check_eq(detail["buffer"], detail["status"], "both keys carry the text")
	check(detail["status"].contains("connected"), "text names the state")


func test_close_signals_the_peer() -> void:
	var pair := make_pair()
	_listen()
	check_eq(S.closeConnection(pair[0], S.CONNECTION_END_APP_MIN + 7, "game over", false), true, "close")
	check_eq(status_events.size(), 0, "signals wait for the callback pump")
	await frames(2)
	check_eq(status_events.size(), 2, "two status changes: ours to NONE (as GNS posts), the peer's")
	if status_events.size() == 2:
		var mine: Array = status_events[0]
		check_eq([mine[0], mine[1]["connection_state"], mine[2]], [pair[0], S.CONNECTION_STATE_NONE, S.CONNECTION_STATE_CONNECTED], "our end: destroyed")
		check_eq(mine[1]["end_reason"], 1007, "with our reason")
		var e: Array = status_events[1]
		check_eq(e[0], pair[1], "handle")
		check_keys(e[1], Contract.signal_dict_keys(contract, "network_connection_status_changed", "connection"), "signal connection dict")
		check_eq(e[1]["connection_state"], S.CONNECTION_STATE_CLOSED_BY_PEER, "new state")
		check_eq(e[1]["end_reason"], 1007, "reason travels")
		check_eq(e[1]["end_debug"], "game over", "debug text travels")
		check_eq(e[2], S.CONNECTION_STATE_CONNECTED, "old state")
	check_eq(S.getConnectionInfo(pair[0]), {}, "closed handle is gone")
	check_eq(S.getConnectionInfo(pair[1])["connection_state"], S.CONNECTION_STATE_CLOSED_BY_PEER, "peer sees it")


func test_manual_pump_delivers_immediately() -> void:
	var pair := make_pair()
	_listen()
	S.closeConnection(pair[0], 0, "", false)
	S.runNetworkingCallbacks()
	check_eq(status_events.size(), 2, "runNetworkingCallbacks emits at once")
	check_eq(status_events[1][1]["end_reason"] if status_events.size() > 1 else -1, S.CONNECTION_END_APP_GENERIC, "reason 0 becomes APP_GENERIC")
	check_eq(status_events[1][1]["end_debug"] if status_events.size() > 1 else "", "Application closed connection", "GNS's text when none is given")
	S.runNetworkingCallbacks()
	check_eq(status_events.size(), 2, "each callback is delivered once")


var _reentrant_result := {}

func _close_from_handler(handle: int, info: Dictionary, _old: int) -> void:
	# The usual GodotSteam pattern: react to CLOSED_BY_PEER by closing our end, inside the handler.
	if info["connection_state"] == S.CONNECTION_STATE_CLOSED_BY_PEER:
		_reentrant_result["info"] = S.getConnectionInfo(handle)
		_reentrant_result["closed"] = S.closeConnection(handle, 0, "", false)


func test_handlers_may_call_back_into_the_singleton() -> void:
	var pair := make_pair()
	S.network_connection_status_changed.connect(_close_from_handler)
	S.closeConnection(pair[0], 0, "", false)
	S.runNetworkingCallbacks()
	S.network_connection_status_changed.disconnect(_close_from_handler)
	check_eq(_reentrant_result.get("closed"), true, "closeConnection inside the handler")
	check_eq(_reentrant_result.get("info", {}).get("connection_state"), S.CONNECTION_STATE_CLOSED_BY_PEER, "getConnectionInfo inside the handler")
	check_eq(S.getConnectionInfo(pair[1]), {}, "both ends gone")


func test_reset_identity_invalidates_connections() -> void:
	var pair := make_pair()
	S.resetIdentity(76561197960287999)
	check_eq(S.getConnectionInfo(pair[0]), {}, "connections are destroyed")
	var fresh := make_pair(0, 0)
	check_eq(S.getConnectionInfo(fresh[0])["identity"], 76561197960287999, "pairs without ids take the new local identity")
	S.resetIdentity(0)
