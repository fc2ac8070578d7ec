## steamnet demo: a tiny chat between a "host" and a "client" over SteamNetworkingSockets.
##
## Both live in this process but talk over real UDP on 127.0.0.1, encrypted: the host listens
## (createListenSocketIP), the client connects by address (connectByIPAddress), and the host
## accepts in its network_connection_status_changed handler, exactly as a game server does.
## Type a line and press Send; the host answers. "Chat by Steam ID" does the same the way most
## Steam games connect players: the host listens on a virtual port (createListenSocketP2P), the
## client calls the host's verified Steam ID (connectP2P) through the relay that the first
## process on this machine hosts, and the stats line shows the identity and the path in use.
## Headless (no display), it plays a short scripted chat over each, prints them and quits with
## exit code 0 only if every message made the round trip.
extends Control

const SCRIPTED_LINES := ["hello host", "how is the weather", "ready to play", "gg"]
const STATE_NAMES := {0: "none", 1: "connecting", 3: "connected", 4: "closed by peer", 5: "problem"}

var listen_socket := 0
var host_conn := 0
var client_conn := 0
var host_group := 0
var replies_seen := 0
var p2p_listen := 0

@onready var log_view: RichTextLabel = %Log
@onready var input: LineEdit = %Input
@onready var stats: Label = %Stats


func _ready() -> void:
	SteamNetworkingSockets.network_connection_status_changed.connect(_on_status_changed)
	%Send.pressed.connect(func(): _client_send(input.text))
	input.text_submitted.connect(_client_send)
	%Disconnect.pressed.connect(_disconnect)
	%P2P.pressed.connect(_start_p2p)
	# The host reads through a poll group, the way a server with many clients would.
	host_group = SteamNetworkingSockets.createPollGroup()
	listen_socket = SteamNetworkingSockets.createListenSocketIP("127.0.0.1:0", {})
	if listen_socket == 0:
		_say("[color=red]could not listen on 127.0.0.1[/color]")
		return
	var address := SteamNetworkingSockets.getListenSocketAddress(listen_socket)
	_say("host listening on " + address)
	client_conn = SteamNetworkingSockets.connectByIPAddress(address, {})
	SteamNetworkingSockets.setConnectionName(client_conn, "client side")
	if DisplayServer.get_name() == "headless":
		_play_script.call_deferred()


func _process(_delta: float) -> void:
	_host_poll()
	_client_poll()
	_show_stats()


func _client_send(text: String) -> void:
	if text.strip_edges() == "" or client_conn == 0:
		return
	# Sent while still connecting, a message waits and goes out once the host has accepted.
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


## The same chat by Steam ID: listen on virtual port 0, then call ourselves by identity through
## the relay. P2P needs a certificate: createListenSocketP2P starts initAuthentication for us.
func _start_p2p() -> void:
	if p2p_listen != 0:
		return
	_disconnect()
	if client_conn != 0:
		SteamNetworkingSockets.closeConnection(client_conn, 0, "", false)
		client_conn = 0
	p2p_listen = SteamNetworkingSockets.createListenSocketP2P(0, {})
	if p2p_listen == 0:
		_say("[color=red]could not listen for P2P (see the output for why)[/color]")
		return
	_say("authenticating with the certificate authority (hosted by the first steamnet process here)...")
	while SteamNetworkingSockets.getAuthenticationStatus() != SteamNetworkingSockets.NETWORKING_AVAILABILITY_CURRENT:
		if SteamNetworkingSockets.getAuthenticationStatus() == SteamNetworkingSockets.NETWORKING_AVAILABILITY_FAILED:
			_say("[color=red]authentication failed[/color]")
			return
		await get_tree().process_frame
	var me := int(SteamNetworkingSockets.getIdentity().trim_prefix("steamid:"))
	_say("we are %s; calling that Steam ID on virtual port 0" % SteamNetworkingSockets.getIdentity())
	client_conn = SteamNetworkingSockets.connectP2P(me, 0, {})
	SteamNetworkingSockets.setConnectionName(client_conn, "client side (P2P)")


func _show_stats() -> void:
	if client_conn == 0:
		stats.text = "no connection"
		return
	var status: Dictionary = SteamNetworkingSockets.getConnectionRealTimeStatus(client_conn, 0)
	if status["response"] != SteamNetworkingSockets.RESULT_OK:
		stats.text = "no status"
		return
	var s: Dictionary = status["connection_status"]
	var info: Dictionary = SteamNetworkingSockets.getConnectionInfo(client_conn)
	stats.text = "client: %s  peer steamid %d  path %s  ping %d ms  quality %.0f%%  out %.0f B/s  in %.0f B/s" % [
		STATE_NAMES.get(s["state"], s["state"]), info.get("identity", 0), s.get("path", "?"), s["ping"],
		maxf(s["local_quality"], 0.0) * 100.0, s["bytes_out_per_second"], s["bytes_in_per_second"]]


func _disconnect() -> void:
	if host_conn != 0:
		SteamNetworkingSockets.closeConnection(host_conn, SteamNetworkingSockets.CONNECTION_END_APP_MIN, "host closed the chat", false)
		host_conn = 0


func _on_status_changed(handle: int, info: Dictionary, old_state: int) -> void:
	var state: int = info["connection_state"]
	var who := "host" if info["listen_socket"] != 0 else "client"
	_say("%s #%d: %s -> %s %s" % [who, handle, STATE_NAMES.get(old_state, old_state), STATE_NAMES.get(state, state), info["end_debug"]])
	var ours: bool = info["listen_socket"] != 0 and (info["listen_socket"] == listen_socket or info["listen_socket"] == p2p_listen)
	if ours and state == SteamNetworkingSockets.CONNECTION_STATE_CONNECTING:
		# A client knocks (by address, or by Steam ID with its verified identity already in
		# info["identity"]): let it in and read it through the poll group.
		SteamNetworkingSockets.acceptConnection(handle)
		SteamNetworkingSockets.setConnectionPollGroup(handle, host_group)
		SteamNetworkingSockets.setConnectionName(handle, "host side")
		host_conn = handle
	elif handle == client_conn and state in [SteamNetworkingSockets.CONNECTION_STATE_CLOSED_BY_PEER, SteamNetworkingSockets.CONNECTION_STATE_PROBLEM_DETECTED_LOCALLY]:
		SteamNetworkingSockets.closeConnection(client_conn, 0, "", false)
		client_conn = 0


func _say(line: String) -> void:
	print(line.replace("[color=red]", "").replace("[/color]", ""))
	if is_instance_valid(log_view):
		log_view.append_text(line + "\n")


## One scripted chat on the current connection: every line must come back, then the host hangs
## up and the client must hear it. Returns whether all of that happened.
func _scripted_chat() -> bool:
	replies_seen = 0
	for line in SCRIPTED_LINES:
		_client_send(line)
		await get_tree().create_timer(0.05).timeout
	var deadline := Time.get_ticks_msec() + 10000
	while replies_seen < SCRIPTED_LINES.size() and Time.get_ticks_msec() < deadline:
		await get_tree().process_frame
	_disconnect()
	while client_conn != 0 and Time.get_ticks_msec() < deadline + 5000:
		await get_tree().process_frame
	return replies_seen == SCRIPTED_LINES.size() and client_conn == 0


func _play_script() -> void:
	var by_address := await _scripted_chat()
	print("demo %s: by address, %d of %d replies" % ["ok" if by_address else "FAILED", replies_seen, SCRIPTED_LINES.size()])
	_start_p2p()
	var deadline := Time.get_ticks_msec() + 15000
	while host_conn == 0 and Time.get_ticks_msec() < deadline:
		await get_tree().process_frame
	var by_steam_id := host_conn != 0 and await _scripted_chat()
	print("demo %s: by Steam ID (P2P through the relay), %d of %d replies" % ["ok" if by_steam_id else "FAILED", replies_seen, SCRIPTED_LINES.size()])
	var ok := by_address and by_steam_id
	print("demo %s: both chats made every round trip and ended cleanly" % ["ok" if ok else "FAILED"])
	get_tree().quit(0 if ok else 1)
