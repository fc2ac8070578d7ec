## A P2P chat by Steam ID, written as a GodotSteam game would (createListenSocketP2P,
## connectP2P, the usual signals and messages), with no IP address anywhere:
##   --host          listens on virtual port 0, prints its Steam ID, answers every line, and
##                   quits when its guest leaves
##   --guest=ID      calls ID on virtual port 0, says three lines, checks the answers come from
##                   ID, leaves
##   --fake-host     the same, but reachable at a FakeIP: beginAsyncRequestFakeIP(1), then
##                   createListenSocketP2PFakeIP(0); prints its Steam ID and FakeIP address
##   --fake-guest=ID,IP:PORT  the guest, dialling the FakeIP with connectByIPAddress
##   --hosted-host   a hosted dedicated server (SDR_LISTEN_PORT set by the caller):
##                   createHostedDedicatedServerListenSocket(0); prints its Steam ID and POP id
##                   once getHostedDedicatedServerAddress() says clients can reach it
##   --hosted-guest=ID  first a call with a forged ticket (NETWORKING_CONFIG_SDR_CLIENT_DEV_TICKET)
##                   that must end with CONNECTION_END_REMOTE_BAD_CERT, then the chat through
##                   connectToHostedDedicatedServer with the ticket the relay issues
## Each prints "p2p_game: <role> ok" on success.
extends Node

var S: Object = SteamNetworkingSockets
var role := ""
var host_id := 0
var listen_socket := 0
var connection := 0
var answers := 0
var deadline := 0
var fake := false
var hosted := false
## The guest's call with a forged ticket, which must be refused.
var forged := 0


func _ready() -> void:
	S.network_connection_status_changed.connect(_on_status_changed)
	deadline = Time.get_ticks_msec() + 40000
	for arg in OS.get_cmdline_user_args():
		if arg == "--host":
			role = "host"
			# Listening starts authentication; the relay learns our port once we have an identity.
			listen_socket = S.createListenSocketP2P(0, {})
			if listen_socket == 0:
				_fail("createListenSocketP2P")
		elif arg == "--fake-host":
			role = "host"
			fake = true
			S.fake_ip_result.connect(_on_fake_ip_result)
			S.initAuthentication()
		elif arg == "--hosted-host":
			role = "host"
			hosted = true
			listen_socket = S.createHostedDedicatedServerListenSocket(0, {})
			if listen_socket == 0:
				_fail("createHostedDedicatedServerListenSocket (is SDR_LISTEN_PORT set?)")
		elif arg.begins_with("--hosted-guest="):
			role = "guest"
			hosted = true
			host_id = int(arg.trim_prefix("--hosted-guest="))
			var bad_ticket := Marshalls.raw_to_base64(PackedByteArray([1, 2, 3]))
			forged = S.connectToHostedDedicatedServer(host_id, 0, {S.NETWORKING_CONFIG_SDR_CLIENT_DEV_TICKET: bad_ticket})
			if forged == 0:
				_fail("connectToHostedDedicatedServer (forged ticket)")
		elif arg.begins_with("--fake-guest="):
			role = "guest"
			var value := arg.trim_prefix("--fake-guest=")
			host_id = int(value.get_slice(",", 0))
			connection = S.connectByIPAddress(value.get_slice(",", 1), {})
			if connection == 0:
				_fail("connectByIPAddress to a FakeIP")
		elif arg.begins_with("--guest="):
			role = "guest"
			host_id = int(arg.trim_prefix("--guest="))
			connection = S.connectP2P(host_id, 0, {})
			if connection == 0:
				_fail("connectP2P")
	if role == "":
		_fail("no role")


var announced := false


func _process(_delta: float) -> void:
	if Time.get_ticks_msec() > deadline:
		_fail("timed out (authentication %d)" % S.getAuthenticationStatus())
	if role == "host" and hosted and not announced and S.getHostedDedicatedServerAddress() == S.RESULT_OK:
		announced = true
		if S.getGameCoordinatorServerLogin() != S.RESULT_OK:
			_fail("getGameCoordinatorServerLogin: %d" % S.getGameCoordinatorServerLogin())
		print("p2p_game: host %s hosted on virtual port 0 at POP %d, UDP port %d" % [
			S.getIdentity().trim_prefix("steamid:"), S.getHostedDedicatedServerPOPId(), S.getHostedDedicatedServerPort()])
	elif role == "host" and not hosted and not announced and S.getAuthenticationStatus() == S.NETWORKING_AVAILABILITY_CURRENT:
		announced = true
		if fake:
			if not S.beginAsyncRequestFakeIP(1):
				_fail("beginAsyncRequestFakeIP")
		else:
			print("p2p_game: host %s listening on virtual port 0" % S.getIdentity().trim_prefix("steamid:"))
	if connection == 0:
		return
	for message in S.receiveMessagesOnConnection(connection, 16):
		var text: String = message["payload"].get_string_from_utf8()
		if role == "host":
			S.sendMessageToConnection(connection, ("host heard: " + text).to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE)
		else:
			if message["identity"] != host_id:
				_fail("answer from %d, not %d" % [message["identity"], host_id])
			print("p2p_game: guest got '%s'" % text)
			answers += 1
			if answers == 3:
				S.closeConnection(connection, S.CONNECTION_END_APP_MIN, "bye", true)
				connection = 0
				print("p2p_game: guest ok")
				get_tree().quit(0)


func _on_fake_ip_result(result: int, _identity: int, fake_ip: String, port_list: Array) -> void:
	if result != S.RESULT_OK:
		_fail("FakeIP request: result %d" % result)
		return
	listen_socket = S.createListenSocketP2PFakeIP(0, {})
	if listen_socket == 0:
		_fail("createListenSocketP2PFakeIP")
	print("p2p_game: host %s listening on fake %s:%d" % [S.getIdentity().trim_prefix("steamid:"), fake_ip, port_list[0]])


func _on_status_changed(handle: int, info: Dictionary, _old_state: int) -> void:
	match info["connection_state"]:
		S.CONNECTION_STATE_CONNECTING:
			if role == "host" and info["listen_socket"] == listen_socket:
				print("p2p_game: host: steamid:%d is calling" % info["identity"])
				if S.acceptConnection(handle) != S.RESULT_OK:
					_fail("accept")
				connection = handle
		S.CONNECTION_STATE_CONNECTED:
			if role == "guest" and handle == connection:
				if info["identity"] != host_id:
					_fail("connected to %d, not %d" % [info["identity"], host_id])
				if hosted and info["remote_address"] != "::":
					_fail("a hosted server's address leaked: %s" % info["remote_address"])
				for line in ["hello", "how is the weather", "bye"]:
					S.sendMessageToConnection(connection, line.to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE)
		S.CONNECTION_STATE_CLOSED_BY_PEER, S.CONNECTION_STATE_PROBLEM_DETECTED_LOCALLY:
			if handle == forged:
				if info["end_reason"] != S.CONNECTION_END_REMOTE_BAD_CERT:
					_fail("forged ticket ended with %d %s" % [info["end_reason"], info["end_debug"]])
				print("p2p_game: guest: forged ticket refused (%d %s)" % [info["end_reason"], info["end_debug"]])
				S.closeConnection(handle, 0, "", false)
				forged = 0
				connection = S.connectToHostedDedicatedServer(host_id, 0, {})
				if connection == 0:
					_fail("connectToHostedDedicatedServer")
			elif role == "host" and handle == connection and info["end_reason"] == S.CONNECTION_END_APP_MIN:
				S.closeConnection(handle, 0, "", false)
				print("p2p_game: host ok")
				get_tree().quit(0)
			elif handle == connection:
				_fail("connection ended: %d %s" % [info["end_reason"], info["end_debug"]])


func _fail(why: String) -> void:
	print("p2p_game: %s FAILED: %s" % [role, why])
	get_tree().quit(1)
