## UDP connections over 127.0.0.1, the way a game uses them: a listen socket, a client that
## connects by address, a status handler that accepts (or refuses) incoming connections, a poll
## group on the server, messages both ways, closing, and timeouts set through config options.
extends "res://tests/support/test_case.gd"

const Contract = preload("res://tests/support/contract.gd")

var listen := 0
var group := 0
## Server-side handles accepted by the handler, and every status change seen.
var accepted: Array[int] = []
var changes: Array = []
var refuse_with := 0


func _on_status(handle: int, info: Dictionary, old_state: int) -> void:
	changes.append([handle, info, old_state])
	var state: int = info["connection_state"]
	if info["listen_socket"] == listen and listen != 0 and state == S.CONNECTION_STATE_CONNECTING:
		if refuse_with != 0:
			S.closeConnection(handle, refuse_with, "server full", false)
			return
		# The usual GodotSteam server: accept inside the handler, put it in the poll group.
		check_eq(S.acceptConnection(handle), S.RESULT_OK, "accept inside the handler")
		S.setConnectionPollGroup(handle, group)
		accepted.append(track_connection(handle))


func _start_server() -> String:
	S.network_connection_status_changed.connect(_on_status)
	listen = track_listen_socket(S.createListenSocketIP("127.0.0.1:0", {}))
	group = track_poll_group(S.createPollGroup())
	check(listen != 0, "listen socket")
	return S.getListenSocketAddress(listen)


func _state_of(handle: int) -> int:
	return S.getConnectionInfo(handle).get("connection_state", -99)


func cleanup() -> void:
	if S.network_connection_status_changed.is_connected(_on_status):
		S.network_connection_status_changed.disconnect(_on_status)
	await super.cleanup()


func test_listen_socket_reports_its_address() -> void:
	var address := _start_server()
	check(address.begins_with("127.0.0.1:") and not address.ends_with(":0"), "bound port shown: " + address)
	check_eq(S.getListenSocketAddress(listen, false), "127.0.0.1", "without port")
	check_eq(S.closeListenSocket(listen), true, "close")
	check_eq(S.closeListenSocket(listen), false, "close twice")
	check_eq(S.getListenSocketAddress(listen), "", "closed socket has no address")


func test_connect_accept_and_talk() -> void:
	var address := _start_server()
	var client := track_connection(S.connectByIPAddress(address, {S.NETWORKING_CONFIG_CONNECTION_USER_DATA: 77}))
	check(client != 0, "connect returns a handle at once")
	check_eq(_state_of(client), S.CONNECTION_STATE_CONNECTING, "connecting at first")
	check_eq(S.getConnectionUserData(client), 77, "user data from the config options")
	var both := func(): return accepted.size() == 1 and _state_of(client) == S.CONNECTION_STATE_CONNECTED \
		and _state_of(accepted[0]) == S.CONNECTION_STATE_CONNECTED
	check(await until(both), "both ends connected")
	if accepted.is_empty():
		return
	var server_side := accepted[0]
	var info: Dictionary = S.getConnectionInfo(server_side)
	check_keys(info, Contract.return_keys(contract(), "getConnectionInfo"), "server-side info")
	check_eq(info["listen_socket"], listen, "arrived on the listen socket")
	check_eq(info["remote_address"], "127.0.0.1", "client address, no port")
	check_eq(S.getConnectionInfo(client)["remote_address"], "127.0.0.1", "server address, no port")
	# Messages both ways: reliable, unreliable, and one that must be split.
	var big := PackedByteArray()
	big.resize(100000)
	big.fill(7)
	check_eq(S.sendMessageToConnection(client, "hi server".to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE)["result"], S.RESULT_OK, "send small")
	check_eq(S.sendMessageToConnection(client, big, S.NETWORKING_SEND_RELIABLE)["message_number"], 2, "send big")
	check_eq(S.sendMessageToConnection(server_side, "hi client".to_utf8_buffer(), S.NETWORKING_SEND_UNRELIABLE_NO_DELAY)["result"], S.RESULT_OK, "send back")
	var at_server: Array = []
	var at_client: Array = []
	var arrived := func():
		at_server.append_array(S.receiveMessagesOnPollGroup(group, 10))
		at_client.append_array(S.receiveMessagesOnConnection(client, 10))
		return at_server.size() >= 2 and at_client.size() >= 1
	check(await until(arrived), "messages arrive")
	if at_server.size() >= 2 and at_client.size() >= 1:
		check_eq(at_server[0]["payload"].get_string_from_utf8(), "hi server", "first message")
		check_eq(at_server[0]["connection"], server_side, "poll group names the connection")
		check_eq(at_server[1]["payload"], big, "100 KB reassembled")
		check_eq(at_server[1]["flags"], S.NETWORKING_SEND_RELIABLE, "reliable flag")
		check_eq(at_client[0]["payload"].get_string_from_utf8(), "hi client", "reply")
		check_eq(at_client[0]["receiver_user_data"], 77, "receiver user data")
	var status: Dictionary = S.getConnectionRealTimeStatus(client, 1)
	check_eq(status["response"], S.RESULT_OK, "status")
	check(status["connection_status"]["ping"] >= 0, "ping measured")
	check(status["connection_status"]["send_rate"] > 0, "send rate")
	check(status["connection_status"]["local_quality"] > 0.9, "nothing lost on loopback")
	check(S.getDetailedConnectionStatus(client)["status"].contains("UDP 127.0.0.1:"), "detailed status names the peer")
	# The client leaves; the server hears why.
	changes.clear()
	check_eq(S.closeConnection(client, 1042, "bye", false), true, "close")
	var told := func(): return changes.any(func(c): return c[0] == server_side and c[1]["connection_state"] == S.CONNECTION_STATE_CLOSED_BY_PEER)
	check(await until(told), "server told")
	for c in changes:
		if c[0] == server_side:
			check_eq([c[1]["end_reason"], c[1]["end_debug"], c[2]], [1042, "bye", S.CONNECTION_STATE_CONNECTED], "reason, text, old state")


func test_kick_with_linger_delivers_the_last_message() -> void:
	var address := _start_server()
	var client := track_connection(S.connectByIPAddress(address, {}))
	check(await until(func(): return accepted.size() == 1 and _state_of(client) == S.CONNECTION_STATE_CONNECTED), "connected")
	if accepted.is_empty():
		return
	var reason := PackedByteArray()
	reason.resize(50000)
	reason.fill(1)
	S.sendMessageToConnection(accepted[0], reason, S.NETWORKING_SEND_RELIABLE)
	check_eq(S.closeConnection(accepted[0], 1099, "kicked", true), true, "close with linger")
	var got: Array = []
	var ended := func():
		got.append_array(S.receiveMessagesOnConnection(client, 10))
		return _state_of(client) == S.CONNECTION_STATE_CLOSED_BY_PEER
	check(await until(ended), "client told")
	got.append_array(S.receiveMessagesOnConnection(client, 10))
	check_eq(got.size(), 1, "the last message arrived before the close")
	check_eq(S.getConnectionInfo(client)["end_reason"], 1099, "kick reason")


func test_loopback_socket_pair_talks_over_udp() -> void:
	changes.clear()
	S.network_connection_status_changed.connect(_on_status)
	var pair: Dictionary = S.createSocketPair(true, 76561197960287930, 76561197960287931)
	check_eq(pair["success"], true, "pair over 127.0.0.1")
	if not pair["success"]:
		return
	var a: int = track_connection(pair["connection1"])
	var b: int = track_connection(pair["connection2"])
	check_eq([_state_of(a), _state_of(b)], [S.CONNECTION_STATE_CONNECTED, S.CONNECTION_STATE_CONNECTED], "connected at once")
	check_eq(S.getConnectionInfo(a)["remote_address"], "127.0.0.1", "through the network stack")
	check_eq(S.getConnectionInfo(a)["identity"], 76561197960287931, "remote identity")
	S.sendMessageToConnection(a, "via udp".to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE)
	var got: Array = []
	check(await until(func(): got.append_array(S.receiveMessagesOnConnection(b, 1)); return got.size() == 1), "message arrives")
	check_eq(changes.size(), 0, "no callbacks for the pair's own connecting")


func test_refused_connection_is_closed_by_peer() -> void:
	var address := _start_server()
	refuse_with = 1500
	var client := track_connection(S.connectByIPAddress(address, {}))
	var ended := func(): return _state_of(client) == S.CONNECTION_STATE_CLOSED_BY_PEER
	check(await until(ended), "client refused")
	check_eq(S.getConnectionInfo(client)["end_reason"], 1500, "the server's reason")
	check_eq(S.getConnectionInfo(client)["end_debug"], "server full", "the server's own words, as GNS carries them")
	check_eq(S.getConnectionInfo(client)["identity"], 0, "nobody vouched for the server: no Steam ID")
	check_eq(accepted.size(), 0, "nothing accepted")


func test_nobody_listening_times_out_as_configured() -> void:
	var probe := PacketPeerUDP.new()
	probe.bind(0, "127.0.0.1")
	var port := probe.get_local_port()
	probe.close()
	var started := Time.get_ticks_msec()
	var client := track_connection(S.connectByIPAddress("127.0.0.1:%d" % port, {S.NETWORKING_CONFIG_TIMEOUT_INITIAL: 300}))
	var ended := func(): return _state_of(client) == S.CONNECTION_STATE_PROBLEM_DETECTED_LOCALLY
	check(await until(ended), "gave up")
	check(Time.get_ticks_msec() - started >= 300, "not before the configured timeout")
	check_eq(S.getConnectionInfo(client)["end_reason"], S.CONNECTION_END_MISC_TIMEOUT, "timeout reason")
	check_eq(S.sendMessageToConnection(client, PackedByteArray([1]), 8)["result"], S.RESULT_NO_CONNECTION, "send after the end")


func test_closing_the_listen_socket_drops_its_connections() -> void:
	var address := _start_server()
	var client := track_connection(S.connectByIPAddress(address, {}))
	check(await until(func(): return accepted.size() == 1 and _state_of(client) == S.CONNECTION_STATE_CONNECTED), "connected")
	check_eq(S.closeListenSocket(listen), true, "close listen socket")
	if accepted.size() == 1:
		check_eq(S.getConnectionInfo(accepted[0]), {}, "accepted connection is gone")


var _contract := {}

func contract() -> Dictionary:
	if _contract.is_empty():
		_contract = Contract.load_contract()
	return _contract


func test_lanes_over_udp_from_gdscript() -> void:
	# Positions unreliably on lane 1, chat reliably on lane 0, through sendMessages' Dictionary
	# items (a steamnet extension mirroring SteamNetworkingMessage_t).
	var address := _start_server()
	var client := track_connection(S.connectByIPAddress(address, {}))
	check_eq(S.configureConnectionLanes(client, 2, [0, 1], [1, 1]), S.RESULT_OK, "lanes set while connecting")
	check(await until(func(): return accepted.size() == 1 and _state_of(client) == S.CONNECTION_STATE_CONNECTED), "connected")
	if accepted.is_empty():
		return
	var items: Array = []
	for i in 20:
		items.append({"payload": PackedByteArray([i]), "lane": i % 2,
			"flags": S.NETWORKING_SEND_RELIABLE if i % 2 == 0 else S.NETWORKING_SEND_NO_NAGLE})
	var numbers: Array = S.sendMessages(items, client, 0)
	check_eq(numbers.slice(0, 4), [1, 1, 2, 2], "numbered per lane")
	var got: Array = []
	check(await until(func(): got.append_array(S.receiveMessagesOnPollGroup(group, 50)); return got.size() >= 20), "all arrive on loopback")
	var lane0 := got.filter(func(m): return m["lane"] == 0).map(func(m): return m["payload"][0])
	var lane1 := got.filter(func(m): return m["lane"] == 1).map(func(m): return m["payload"][0])
	check_eq(lane0, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18], "reliable lane 0 in order")
	check_eq(lane1.size(), 10, "unreliable lane 1 all there on loopback")
	check_eq(S.sendMessages([{"payload": PackedByteArray([1]), "lane": 2}], client, 8), [-S.RESULT_INVALID_PARAM], "no lane 2")
