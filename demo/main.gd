## steamnet demo: a tiny chat between a "host" and a "client" over SteamNetworkingSockets.
##
## The two ends are an in-process socket pair (createSocketPair), the connection kind that works
## today; the code is the same a game writes for any connection: sendMessageToConnection,
## receiveMessagesOnPollGroup, network_connection_status_changed. Type a line and press Send; the
## host answers. Headless (no display), it plays a short scripted chat, prints it and quits with
## exit code 0 only if every message made the round trip.
extends Control

const SCRIPTED_LINES := ["hello host", "how is the weather", "ready to play", "gg"]

var host_conn := 0
var client_conn := 0
var host_group := 0
var replies_seen := 0

@onready var log_view: RichTextLabel = %Log
@onready var input: LineEdit = %Input
@onready var stats: Label = %Stats


func _ready() -> void:
	SteamNetworkingSockets.network_connection_status_changed.connect(_on_status_changed)
	var pair: Dictionary = SteamNetworkingSockets.createSocketPair(false, 76561197960287930, 76561197960287931)
	if not pair["success"]:
		_say("[color=red]could not create the connection[/color]")
		return
	host_conn = pair["connection1"]
	client_conn = pair["connection2"]
	SteamNetworkingSockets.setConnectionName(host_conn, "host side")
	SteamNetworkingSockets.setConnectionName(client_conn, "client side")
	# The host reads through a poll group, the way a server with many clients would.
	host_group = SteamNetworkingSockets.createPollGroup()
	SteamNetworkingSockets.setConnectionPollGroup(host_conn, host_group)
	%Send.pressed.connect(func(): _client_send(input.text))
	input.text_submitted.connect(_client_send)
	%Disconnect.pressed.connect(_disconnect)
	_say("connected: host #%d <-> client #%d" % [host_conn, client_conn])
	if DisplayServer.get_name() == "headless":
		_play_script.call_deferred()


func _process(_delta: float) -> void:
	_host_poll()
	_client_poll()
	_show_stats()


func _client_send(text: String) -> void:
	if text.strip_edges() == "" or client_conn == 0:
		return
	var r: Dictionary = SteamNetworkingSockets.sendMessageToConnection(client_conn, text.to_utf8_buffer(), SteamNetworkingSockets.NETWORKING_SEND_RELIABLE)
	if r["result"] == SteamNetworkingSockets.RESULT_OK:
		_say("client > %s  (message #%d)" % [text, r["message_number"]])
	else:
		_say("[color=red]send failed: result %d[/color]" % r["result"])
	input.clear()


func _host_poll() -> void:
	if host_group == 0:
		return
	for message in SteamNetworkingSockets.receiveMessagesOnPollGroup(host_group, 32):
		var text: String = message["payload"].get_string_from_utf8()
		var reply := "host heard '%s' (%d bytes)" % [text, message["size"]]
		SteamNetworkingSockets.sendMessageToConnection(message["connection"], reply.to_utf8_buffer(), SteamNetworkingSockets.NETWORKING_SEND_RELIABLE)


func _client_poll() -> void:
	if client_conn == 0:
		return
	for message in SteamNetworkingSockets.receiveMessagesOnConnection(client_conn, 32):
		replies_seen += 1
		_say("host   > " + message["payload"].get_string_from_utf8())


func _show_stats() -> void:
	if client_conn == 0:
		stats.text = "no connection"
		return
	var status: Dictionary = SteamNetworkingSockets.getConnectionRealTimeStatus(client_conn, 0)
	if status["response"] != SteamNetworkingSockets.RESULT_OK:
		stats.text = "no status"
		return
	var s: Dictionary = status["connection_status"]
	stats.text = "state %d  ping %d ms  quality %.0f%%  out %.0f B/s  in %.0f B/s" % [
		s["state"], s["ping"], s["local_quality"] * 100.0, s["bytes_out_per_second"], s["bytes_in_per_second"]]


func _disconnect() -> void:
	if host_conn != 0:
		SteamNetworkingSockets.closeConnection(host_conn, SteamNetworkingSockets.CONNECTION_END_APP_MIN, "host closed the chat", false)
		host_conn = 0


func _on_status_changed(handle: int, info: Dictionary, old_state: int) -> void:
	_say("status of #%d: %d -> %d (%s)" % [handle, old_state, info["connection_state"], info["end_debug"]])
	if handle == client_conn and info["connection_state"] == SteamNetworkingSockets.CONNECTION_STATE_CLOSED_BY_PEER:
		SteamNetworkingSockets.closeConnection(client_conn, 0, "", false)
		client_conn = 0


func _say(line: String) -> void:
	print(line.replace("[color=red]", "").replace("[/color]", ""))
	if is_instance_valid(log_view):
		log_view.append_text(line + "\n")


func _play_script() -> void:
	for line in SCRIPTED_LINES:
		_client_send(line)
		await get_tree().process_frame
	for i in 10:
		await get_tree().process_frame
	_disconnect()
	for i in 5:
		await get_tree().process_frame
	var ok := replies_seen == SCRIPTED_LINES.size() and client_conn == 0
	print("demo %s: %d of %d replies, connection closed: %s" % ["ok" if ok else "FAILED", replies_seen, SCRIPTED_LINES.size(), client_conn == 0])
	get_tree().quit(0 if ok else 1)
