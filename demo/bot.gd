## A bot: a real client connection, from this process to a host, that says hello, circles the
## arena and reads (and drops) what the host sends. N of them load the host like N players.
extends RefCounted

const Protocol := preload("res://demo/protocol.gd")

var connection := 0
var index := 0
var connected := false
var kicked_because := ""
var received := 0
var _phase := 0.0


func _init(host_address: String, bot_index: int) -> void:
	index = bot_index
	_phase = bot_index * 1.3
	connection = SteamNetworkingSockets.connectByIPAddress(host_address, {})
	SteamNetworkingSockets.setConnectionName(connection, "bot %d" % index)


## The arena forwards the bot's connection changes here.
func on_status(info: Dictionary) -> void:
	var state: int = info["connection_state"]
	if state == SteamNetworkingSockets.CONNECTION_STATE_CONNECTED:
		connected = true
		# Lanes must exist on the sender too before anything goes out on lane 1.
		SteamNetworkingSockets.configureConnectionLanes(connection, 2, [0, 1], [1, 1])
		Protocol.send(connection, Protocol.LANE_EVENTS, ["hello", "bot %d" % index])
	elif state in [SteamNetworkingSockets.CONNECTION_STATE_CLOSED_BY_PEER, SteamNetworkingSockets.CONNECTION_STATE_PROBLEM_DETECTED_LOCALLY]:
		kicked_because = info["end_debug"]
		close()


func tick(now_ms: int) -> void:
	if not connected:
		return
	received += SteamNetworkingSockets.receiveMessagesOnConnection(connection, 64).size()
	# The host may have closed us since the last status callback (a kick): then say nothing.
	if SteamNetworkingSockets.getConnectionInfo(connection).get("connection_state") != SteamNetworkingSockets.CONNECTION_STATE_CONNECTED:
		return
	var t := now_ms / 1000.0 * 0.8 + _phase
	var pos := Protocol.ARENA.get_center() + Vector2(cos(t), sin(t)) * (120.0 + 40.0 * index)
	Protocol.send(connection, Protocol.LANE_POSITIONS, ["pos", pos.x, pos.y])


func close() -> void:
	if connection != 0:
		SteamNetworkingSockets.closeConnection(connection, 0, "bot leaves", false)
	connection = 0
	connected = false
