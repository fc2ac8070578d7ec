## Four roles, one per process (see run.sh):
##   --server            authenticates, listens, answers one client's hello with its own identity
##   --strict            authenticates, refuses peers without a certificate (IP_ALLOW_WITHOUT_AUTH 0),
##                       and quits after an authenticated client says bye
##   --anonymous=PORT    never authenticates; connects to the strict server and must be refused
##   --client=PORT,ID,STRICT_PORT
##                       authenticates, talks to the server (whose identity is ID), then says bye
##                       to the strict one
##   --offline=DIR       never asks a CA: writes getCertificateRequest() to DIR/request, waits for
##                       DIR/certificate (run.sh signs it with `steamnet-relay ca sign`), installs
##                       it with setCertificate(); its CA is trusted through the project setting
##                       steamnet/auth/trusted_ca_keys
## Each prints "auth_game: <role> ok" on success and exits 0.
extends Node

var S: Object = SteamNetworkingSockets

var role := ""
var listen_socket := 0
var connection := 0
var expected_server_id := 0
var strict_port := ""
var deadline := 0
var authenticated := false
var auth_messages: Array[String] = []


func _ready() -> void:
	S.network_connection_status_changed.connect(_on_status_changed)
	S.network_authentication_status.connect(_on_auth_status)
	deadline = Time.get_ticks_msec() + 40000
	for arg in OS.get_cmdline_user_args():
		var value: String = arg.get_slice("=", 1)
		match arg.get_slice("=", 0):
			"--server", "--strict":
				role = arg.trim_prefix("--")
			"--anonymous":
				role = "anonymous"
				if S.getIdentity() != "":
					_fail("an anonymous process has no identity")
				connection = S.connectByIPAddress("127.0.0.1:" + value, {})
			"--offline":
				role = "offline"
				set_meta("dir", value)
				var request: Dictionary = S.getCertificateRequest()
				if request.get("error_message", "?") != "" or request.get("certificate", PackedByteArray()).is_empty():
					_fail("getCertificateRequest: %s" % [request])
				var file := FileAccess.open(value.path_join("request"), FileAccess.WRITE)
				file.store_buffer(request["certificate"])
				file.close()
				print("auth_game: offline request written")
			"--client":
				role = "client"
				expected_server_id = int(value.get_slice(",", 1))
				strict_port = value.get_slice(",", 2)
				set_meta("server_port", value.get_slice(",", 0))
	if role == "":
		_fail("no role given")
	if role != "anonymous" and role != "offline":
		var status: int = S.initAuthentication()
		if status != S.NETWORKING_AVAILABILITY_ATTEMPTING and status != S.NETWORKING_AVAILABILITY_CURRENT:
			_fail("initAuthentication returned %d" % status)


func _on_auth_status(available: int, message: String) -> void:
	auth_messages.append("%d %s" % [available, message])
	if available == S.NETWORKING_AVAILABILITY_FAILED:
		_fail("authentication failed: " + message)
	if available != S.NETWORKING_AVAILABILITY_CURRENT or authenticated:
		return
	authenticated = true
	if S.getAuthenticationStatus() != S.NETWORKING_AVAILABILITY_CURRENT:
		_fail("getAuthenticationStatus disagrees with the signal")
	if not S.getIdentity().begins_with("steamid:"):
		_fail("no identity after authenticating: '%s'" % S.getIdentity())
	match role:
		"server":
			listen_socket = S.createListenSocketIP("127.0.0.1:0", {})
			print("auth_game: server %s listening on %s" % [_my_id(), S.getListenSocketAddress(listen_socket)])
		"strict":
			for setting in [S.NETWORKING_CONFIG_IP_ALLOW_WITHOUT_AUTH, S.NETWORKING_CONFIG_IP_LOCAL_HOST_ALLOW_WITHOUT_AUTH]:
				if not S.setGlobalConfigValueInt32(setting, 0):
					_fail("cannot set config %d" % setting)
			listen_socket = S.createListenSocketIP("127.0.0.1:0", {})
			print("auth_game: strict %s listening on %s" % [_my_id(), S.getListenSocketAddress(listen_socket)])
		"client":
			connection = S.connectByIPAddress("127.0.0.1:" + str(get_meta("server_port")), {})


func _install_offline_certificate(certificate: PackedByteArray) -> void:
	var result: Dictionary = S.setCertificate(certificate)
	if result.get("response") != true:
		_fail("setCertificate: %s" % [result])
	elif S.getAuthenticationStatus() != S.NETWORKING_AVAILABILITY_CURRENT:
		_fail("not CURRENT after setCertificate")
	elif not S.getIdentity().begins_with("steamid:"):
		_fail("no identity after setCertificate")
	else:
		print("auth_game: offline installed %s" % S.getIdentity())
		print("auth_game: offline ok")
		get_tree().quit(0)


func _my_id() -> int:
	return int(S.getIdentity().trim_prefix("steamid:"))


func _process(_delta: float) -> void:
	if Time.get_ticks_msec() > deadline:
		_fail("timed out; authentication said: %s" % ", ".join(auth_messages))
	if role == "offline":
		var path: String = str(get_meta("dir")).path_join("certificate")
		if FileAccess.file_exists(path) and FileAccess.get_file_as_bytes(path).size() > 0:
			_install_offline_certificate(FileAccess.get_file_as_bytes(path))
		return
	if listen_socket == 0 and connection == 0:
		return
	if role == "server" or role == "strict":
		for handle in _server_connections:
			for message in S.receiveMessagesOnConnection(handle, 8):
				_server_got(handle, message)
	elif role == "client" and connection != 0:
		for message in S.receiveMessagesOnConnection(connection, 8):
			_client_got(message)


var _server_connections: Array[int] = []
## The server verified its client's identity.
var verified := false


func _server_got(handle: int, message: Dictionary) -> void:
	var text: String = message["payload"].get_string_from_utf8()
	var info: Dictionary = S.getConnectionInfo(handle)
	var claimed := int(text.get_slice(" ", 1).trim_prefix("steamid:"))
	# The client says who it is; the handshake must have proved the same.
	if claimed == 0 or info["identity"] != claimed or message["identity"] != claimed:
		_fail("peer says %d, connection shows %d, message shows %d" % [claimed, info["identity"], message["identity"]])
	if role == "server" and text.begins_with("hello "):
		S.sendMessageToConnection(handle, ("i am " + S.getIdentity()).to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE)
		print("auth_game: server saw verified steamid:%d" % claimed)
		verified = true
	elif text.begins_with("bye "):
		print("auth_game: %s saw verified steamid:%d" % [role, claimed])
		print("auth_game: %s ok" % role)
		get_tree().quit(0)


func _client_got(message: Dictionary) -> void:
	var info: Dictionary = S.getConnectionInfo(connection)
	if info["identity"] != expected_server_id or message["identity"] != expected_server_id:
		_fail("server should be %d: connection shows %d, message %d" % [expected_server_id, info["identity"], message["identity"]])
	var text: String = message["payload"].get_string_from_utf8()
	if text != "i am steamid:%d" % expected_server_id:
		_fail("unexpected answer " + text)
	print("auth_game: client saw verified steamid:%d" % expected_server_id)
	S.closeConnection(connection, S.CONNECTION_END_APP_MIN, "done", true)
	connection = S.connectByIPAddress("127.0.0.1:" + strict_port, {})
	role = "client-to-strict"


func _on_status_changed(handle: int, info: Dictionary, _old_state: int) -> void:
	var state: int = info["connection_state"]
	if state == S.CONNECTION_STATE_CONNECTING and info["listen_socket"] != 0:
		if info["listen_socket"] != listen_socket:
			return
		if role == "strict" and info["identity"] == 0:
			_fail("an anonymous peer reached the strict server's game code")
		if S.acceptConnection(handle) != S.RESULT_OK:
			_fail("accept")
		_server_connections.append(handle)
	elif state == S.CONNECTION_STATE_CONNECTED and handle == connection:
		if role == "client" or role == "client-to-strict":
			var verb := "hello" if role == "client" else "bye"
			S.sendMessageToConnection(handle, ("%s %s" % [verb, S.getIdentity()]).to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE)
		elif role == "anonymous":
			_fail("the strict server let an anonymous peer in")
	elif state == S.CONNECTION_STATE_CLOSED_BY_PEER or state == S.CONNECTION_STATE_PROBLEM_DETECTED_LOCALLY:
		if role == "anonymous" and handle == connection:
			if info["end_reason"] != S.CONNECTION_END_REMOTE_BAD_CERT:
				_fail("refused with %d (%s), expected CONNECTION_END_REMOTE_BAD_CERT" % [info["end_reason"], info["end_debug"]])
			print("auth_game: anonymous refused with %d: %s" % [info["end_reason"], info["end_debug"]])
			print("auth_game: anonymous ok")
			S.closeConnection(handle, 0, "", false)
			get_tree().quit(0)
		elif role == "server" and handle in _server_connections and verified:
			# The client left after our exchange.
			print("auth_game: server ok")
			get_tree().quit(0)
		elif role == "client-to-strict" and handle == connection and state == S.CONNECTION_STATE_CLOSED_BY_PEER:
			# The strict server heard our bye and quit.
			print("auth_game: client ok")
			get_tree().quit(0)
		elif handle == connection:
			_fail("connection ended: %d %s" % [info["end_reason"], info["end_debug"]])


func _fail(why: String) -> void:
	print("auth_game: %s FAILED: %s" % [role, why])
	get_tree().quit(1)
