## A small networked game written for GodotSteam, using only GodotSteam's names on `Steam`
## (here the steamnet shim autoload). Two processes: `-- --server` and `-- --client=<port>`.
## The client says hello three times reliably; the server answers each; then the client leaves
## with a reason the server must see. Each prints "godotsteam_game: <role> ok" on success.
extends Node

var is_server := false
var listen_socket := 0
var connection := 0
var poll_group := 0
var answered := 0
var deadline := 0


func _ready() -> void:
	var init: Dictionary = Steam.steamInitEx(false, 480)
	if init["status"] != 0:
		_fail("steamInitEx: %s" % init["verbal"])
	Steam.network_connection_status_changed.connect(_on_network_connection_status_changed)
	deadline = Time.get_ticks_msec() + 20000
	for arg in OS.get_cmdline_user_args():
		if arg == "--server":
			is_server = true
			poll_group = Steam.createPollGroup()
			listen_socket = Steam.createListenSocketIP("127.0.0.1:0", {})
			print("godotsteam_game: listening on %s" % Steam.getListenSocketAddress(listen_socket))
		elif arg.begins_with("--client="):
			connection = Steam.connectByIPAddress("127.0.0.1:" + arg.trim_prefix("--client="), {})


func _process(_delta: float) -> void:
	Steam.run_callbacks()
	if Time.get_ticks_msec() > deadline:
		_fail("timed out")
	if is_server:
		for message in Steam.receiveMessagesOnPollGroup(poll_group, 16):
			var text: String = message["payload"].get_string_from_utf8()
			Steam.sendMessageToConnection(message["connection"], ("echo " + text).to_utf8_buffer(), Steam.NETWORKING_SEND_RELIABLE)
	elif connection != 0:
		for message in Steam.receiveMessagesOnConnection(connection, 16):
			answered += 1
			if answered == 3:
				Steam.closeConnection(connection, Steam.CONNECTION_END_APP_MIN + 42, "see you", true)
				connection = 0
				print("godotsteam_game: client ok")
				get_tree().quit(0)


func _on_network_connection_status_changed(handle: int, info: Dictionary, old_state: int) -> void:
	match info["connection_state"]:
		Steam.CONNECTION_STATE_CONNECTING:
			if is_server and info["listen_socket"] == listen_socket:
				if Steam.acceptConnection(handle) != Steam.RESULT_OK:
					_fail("accept")
				Steam.setConnectionPollGroup(handle, poll_group)
		Steam.CONNECTION_STATE_CONNECTED:
			if not is_server:
				for i in 3:
					Steam.sendMessageToConnection(handle, ("hello %d" % i).to_utf8_buffer(), Steam.NETWORKING_SEND_RELIABLE)
		Steam.CONNECTION_STATE_CLOSED_BY_PEER, Steam.CONNECTION_STATE_PROBLEM_DETECTED_LOCALLY:
			if is_server and info["end_reason"] == Steam.CONNECTION_END_APP_MIN + 42 and info["end_debug"] == "see you" \
				and old_state == Steam.CONNECTION_STATE_CONNECTED:
				Steam.closeConnection(handle, 0, "", false)
				print("godotsteam_game: server ok")
				get_tree().quit(0)
			elif is_server:
				_fail("unexpected end: %s" % info)


func _fail(why: String) -> void:
	print("godotsteam_game: FAILED: " + why)
	get_tree().quit(1)
