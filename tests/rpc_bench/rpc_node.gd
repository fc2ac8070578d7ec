## The RPC endpoints of the benchmark (the same node on the server and the client branch).
extends Node

var pong_at := 0
var received := 0


func _ready() -> void:
	name = "Bench"


@rpc("any_peer", "call_remote", "reliable")
func ping(sent: int) -> void:
	pong.rpc_id(multiplayer.get_remote_sender_id(), sent)


@rpc("authority", "call_remote", "reliable")
func pong(_sent: int) -> void:
	pong_at = Time.get_ticks_usec()


@rpc("any_peer", "call_remote", "reliable")
func count_reliable() -> void:
	received += 1


@rpc("any_peer", "call_remote", "unreliable")
func count_unreliable() -> void:
	received += 1
