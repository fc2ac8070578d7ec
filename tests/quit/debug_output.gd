## setDebugOutputFunction shows steamnet's diagnostics in Godot's output: at EVERYTHING, a UDP
## connection that times out must log its end, inside the span of the connection it is about
## (its handle and id). Run as its own process; godot-tests.sh checks the output against
## debug_output.expect.
extends SceneTree

var S := SteamNetworkingSockets
var client := 0


func _initialize() -> void:
	S.setDebugOutputFunction(S.NETWORKING_SOCKET_DEBUG_OUTPUT_TYPE_EVERYTHING)
	# Nobody listens on this port: the connection ends after TIMEOUT_INITIAL.
	var probe := PacketPeerUDP.new()
	probe.bind(0, "127.0.0.1")
	var port := probe.get_local_port()
	probe.close()
	client = S.connectByIPAddress("127.0.0.1:%d" % port, {S.NETWORKING_CONFIG_TIMEOUT_INITIAL: 200})


func _process(_delta: float) -> bool:
	if S.getConnectionInfo(client).get("connection_state", 0) == S.CONNECTION_STATE_PROBLEM_DETECTED_LOCALLY:
		S.closeConnection(client, 0, "", false)
		S.runNetworkingCallbacks()
		print("debug_output: quitting")
		quit(0)
	return false
