## A game's first networking code, as a user would write it after installing the addon: a host
## and a client in one process over real UDP, a reliable message each way, and the Performance
## monitors the addon adds. Prints "fresh game: ok" and exits 0, or says what failed and exits 1.
extends Node

var S := SteamNetworkingSockets
var listen := 0
var client := 0
var server := 0
var heard_by_server := ""
var heard_by_client := ""
var frames := 0


func _ready() -> void:
	S.network_connection_status_changed.connect(_on_status)
	listen = S.createListenSocketIP("127.0.0.1:0", {})
	client = S.connectByIPAddress(S.getListenSocketAddress(listen, true), {})
	if listen == 0 or client == 0:
		_finish("could not listen (%d) or connect (%d)" % [listen, client])


func _on_status(handle: int, info: Dictionary, _old_state: int) -> void:
	var state: int = info["connection_state"]
	if state == S.CONNECTION_STATE_CONNECTING and info["listen_socket"] == listen:
		server = handle
		S.acceptConnection(handle)
	elif state == S.CONNECTION_STATE_CONNECTED and handle == client:
		S.sendMessageToConnection(client, "hello host".to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE)


func _process(_delta: float) -> void:
	frames += 1
	for m in S.receiveMessagesOnConnection(server, 8):
		heard_by_server = m["payload"].get_string_from_utf8()
		S.sendMessageToConnection(server, "hello player".to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE)
	for m in S.receiveMessagesOnConnection(client, 8):
		heard_by_client = m["payload"].get_string_from_utf8()
	if heard_by_client != "":
		var connected: float = Performance.get_custom_monitor(&"steamnet/connected")
		if connected != 2.0:
			_finish("the steamnet/connected monitor reads %s, not 2" % connected)
		elif heard_by_server != "hello host" or heard_by_client != "hello player":
			_finish("heard '%s' and '%s'" % [heard_by_server, heard_by_client])
		else:
			_finish("")
	elif frames > 600:
		_finish("no reply after %d frames" % frames)


func _finish(failure: String) -> void:
	for handle in [client, server]:
		S.closeConnection(handle, 0, "", false)
	S.closeListenSocket(listen)
	print("fresh game: ok" if failure.is_empty() else "fresh game: FAIL " + failure)
	get_tree().quit(0 if failure.is_empty() else 1)
	set_process(false)
