## Configuration the way a game tunes and tests its netcode: global and per-connection values
## read back with GNS's result codes, and the fake network conditions (lag, loss) that GNS
## offers for testing, over real UDP on 127.0.0.1.
extends "res://tests/support/test_case.gd"

var listen := 0
var accepted: Array[int] = []


func _on_status(handle: int, info: Dictionary, _old: int) -> void:
	if info["listen_socket"] == listen and listen != 0 and info["connection_state"] == S.CONNECTION_STATE_CONNECTING:
		S.acceptConnection(handle)
		accepted.append(track_connection(handle))


func cleanup() -> void:
	if S.network_connection_status_changed.is_connected(_on_status):
		S.network_connection_status_changed.disconnect(_on_status)
	listen = 0
	accepted.clear()
	await super.cleanup()


## A listen socket and a client, both with `options`; returns [client, server end] once connected.
func _connect(options: Dictionary) -> Array[int]:
	S.network_connection_status_changed.connect(_on_status)
	listen = track_listen_socket(S.createListenSocketIP("127.0.0.1:0", options))
	var client := track_connection(S.connectByIPAddress(S.getListenSocketAddress(listen), options))
	var up := func(): return accepted.size() == 1 and S.getConnectionInfo(client)["connection_state"] == S.CONNECTION_STATE_CONNECTED
	if not check(await until(up), "connected"):
		return []
	return [client, accepted[0]]


## Send `texts` from ends[0] with `flags`; check they all reach ends[1] exactly once, in order,
## whatever the fake network does (30 s at most).
func _all_arrive_in_order(ends: Array[int], texts: Array, flags: int) -> void:
	for text in texts:
		S.sendMessageToConnection(ends[0], text.to_utf8_buffer(), flags)
	var got: Array = []
	var all := func():
		for m in S.receiveMessagesOnConnection(ends[1], 100):
			got.append(m["payload"].get_string_from_utf8())
		return got.size() >= texts.size()
	check(await until(all, 30.0), "all %d arrive despite the loss (%d)" % [texts.size(), got.size()])
	check_eq(got, texts, "exactly once, in order")


func _int32_of(reading: Dictionary) -> int:
	return reading["value"].decode_s32(0)


func test_global_values_round_trip() -> void:
	var info: Dictionary = S.getConfigValueInfo(S.NETWORKING_CONFIG_FAKE_PACKET_LOSS_SEND)
	check_eq(info, {"type": S.NETWORKING_CONFIG_TYPE_FLOAT, "scope": S.NETWORKING_CONFIG_SCOPE_GLOBAL}, "info of a global float")
	var before: Dictionary = S.getConfigValue(S.NETWORKING_CONFIG_SEND_RATE_MAX, S.NETWORKING_CONFIG_SCOPE_GLOBAL, 0)
	check_eq(before["result"], S.NETWORKING_GET_CONFIG_VALUE_OK_INHERITED, "default is inherited")
	check_eq([before["type"], before["buffer"], _int32_of(before)], [S.NETWORKING_CONFIG_TYPE_INT32, 4, 262144], "GNS's default")
	check_eq(S.setGlobalConfigValueInt32(S.NETWORKING_CONFIG_SEND_RATE_MAX, 999999999), true, "set")
	var after: Dictionary = S.getConfigValue(S.NETWORKING_CONFIG_SEND_RATE_MAX, S.NETWORKING_CONFIG_SCOPE_GLOBAL, 0)
	check_eq([after["result"], _int32_of(after)], [S.NETWORKING_GET_CONFIG_VALUE_OK, 0x10000000], "set, and clamped to GNS's maximum")
	check_eq(S.setGlobalConfigValueString(S.NETWORKING_CONFIG_SEND_RATE_MAX, "262144"), true, "a numeric string is parsed")
	check_eq(_int32_of(S.getConfigValue(S.NETWORKING_CONFIG_SEND_RATE_MAX, S.NETWORKING_CONFIG_SCOPE_GLOBAL, 0)), 262144, "back to the default")


func test_connection_values_inherit_and_apply_live() -> void:
	var pair := make_pair()
	var nagle: Dictionary = S.getConfigValue(S.NETWORKING_CONFIG_NAGLE_TIME, S.NETWORKING_CONFIG_SCOPE_CONNECTION, pair[0])
	check_eq([nagle["result"], _int32_of(nagle)], [S.NETWORKING_GET_CONFIG_VALUE_OK_INHERITED, 5000], "inherited default")
	check_eq(S.setConnectionConfigValueInt32(pair[0], S.NETWORKING_CONFIG_NAGLE_TIME, 0), true, "set on the connection")
	nagle = S.getConfigValue(S.NETWORKING_CONFIG_NAGLE_TIME, S.NETWORKING_CONFIG_SCOPE_CONNECTION, pair[0])
	check_eq([nagle["result"], _int32_of(nagle)], [S.NETWORKING_GET_CONFIG_VALUE_OK, 0], "own value")
	check_eq(S.setConnectionConfigValueInt32(pair[0], S.NETWORKING_CONFIG_CONNECTION_USER_DATA, 42), true, "user data through config")
	check_eq(S.getConnectionUserData(pair[0]), 42, "user data applied")


func test_fake_lag_shows_in_the_ping() -> void:
	# 40 ms each way on both ends: a round trip of at least 160 ms, where loopback has < 1 ms.
	var ends := await _connect({S.NETWORKING_CONFIG_FAKE_PACKET_LAG_SEND: 40, S.NETWORKING_CONFIG_FAKE_PACKET_LAG_RECV: 40})
	if ends.is_empty():
		return
	var started := Time.get_ticks_msec()
	S.sendMessageToConnection(ends[0], "ping".to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE_NO_NAGLE)
	var got: Array = []
	check(await until(func(): got.append_array(S.receiveMessagesOnConnection(ends[1], 1)); return got.size() == 1), "arrives")
	check(Time.get_ticks_msec() - started >= 80, "one way takes at least the two 40 ms lags")
	var pinged := func(): return S.getConnectionRealTimeStatus(ends[0], 0)["connection_status"]["ping"] >= 160
	check(await until(pinged, 5.0), "ping shows the fake lag: %d ms" % S.getConnectionRealTimeStatus(ends[0], 0)["connection_status"]["ping"])


func test_fake_loss_is_repaired_by_reliability() -> void:
	var ends := await _connect({S.NETWORKING_CONFIG_FAKE_PACKET_LOSS_SEND: 20.0, S.NETWORKING_CONFIG_FAKE_PACKET_LOSS_RECV: 10.0})
	if ends.is_empty():
		return
	var texts: Array = []
	for i in 300:
		texts.append("m%d" % i)
	await _all_arrive_in_order(ends, texts, S.NETWORKING_SEND_RELIABLE_NO_NAGLE)
	var quality: float = S.getConnectionRealTimeStatus(ends[1], 0)["connection_status"]["local_quality"]
	check(quality < 0.95, "the receiver saw the loss (local quality %.2f)" % quality)


func test_repair_packets_rebuild_losses() -> void:
	# steamnet extension: forward error correction, set like any connection value.
	var info: Dictionary = S.getConfigValueInfo(S.NETWORKING_CONFIG_FEC_REPAIRS)
	check_eq(info, {"type": S.NETWORKING_CONFIG_TYPE_INT32, "scope": S.NETWORKING_CONFIG_SCOPE_CONNECTION}, "info of the extension value")
	var ends := await _connect({S.NETWORKING_CONFIG_FAKE_PACKET_LOSS_SEND: 10.0, S.NETWORKING_CONFIG_FEC_REPAIRS: 99})
	if ends.is_empty():
		return
	var repairs: Dictionary = S.getConfigValue(S.NETWORKING_CONFIG_FEC_REPAIRS, S.NETWORKING_CONFIG_SCOPE_CONNECTION, ends[0])
	check_eq(_int32_of(repairs), 16, "clamped to one repair per data packet")
	check_eq(S.setConnectionConfigValueInt32(ends[0], S.NETWORKING_CONFIG_FEC_REPAIRS, 4), true, "set live")
	# About 120 full packets: at 10% loss the chance that none is lost (nothing to rebuild) is
	# 0.9^120, about 3 in a million. (300 messages, 35 packets, failed about one run in 40.)
	var texts: Array = []
	for i in 1000:
		texts.append(("m%d" % i).repeat(40))
	await _all_arrive_in_order(ends, texts, S.NETWORKING_SEND_RELIABLE)
	var status: String = S.getDetailedConnectionStatus(ends[1])["buffer"]
	var rebuilt := status.get_slice("(NETWORKING_CONFIG_FEC_REPAIRS): ", 1).get_slice("\n", 0)
	check(rebuilt.is_valid_int() and rebuilt.to_int() > 0, "the receiver rebuilt lost packets (%s)" % rebuilt)


func test_global_fake_loss_applies_to_live_sockets() -> void:
	var ends := await _connect({})
	if ends.is_empty():
		return
	check_eq(S.setGlobalConfigValueFloat(S.NETWORKING_CONFIG_FAKE_PACKET_LOSS_SEND, 100.0), true, "drop everything we send")
	S.sendMessageToConnection(ends[0], "lost".to_utf8_buffer(), S.NETWORKING_SEND_UNRELIABLE_NO_DELAY)
	await frames(20)
	check_eq(S.receiveMessagesOnConnection(ends[1], 10).size(), 0, "nothing gets through")
	check_eq(S.setGlobalConfigValueFloat(S.NETWORKING_CONFIG_FAKE_PACKET_LOSS_SEND, 0.0), true, "back to normal")
	S.sendMessageToConnection(ends[0], "through".to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE_NO_NAGLE)
	var got: Array = []
	check(await until(func(): got.append_array(S.receiveMessagesOnConnection(ends[1], 10)); return got.size() >= 1), "traffic flows again")
