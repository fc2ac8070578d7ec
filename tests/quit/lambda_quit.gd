## Regression script for a crash at exit: a game connects a plain lambda that does not capture
## `self` to a singleton signal, receives a callback, then quits. Run as its own process
## (`godot --headless -s res://tests/quit/lambda_quit.gd`); it must exit 0 with no crash.
extends SceneTree

var frames_left := 30


func _initialize() -> void:
	var S := SteamNetworkingSockets
	S.network_connection_status_changed.connect(func(h, i, o): print("lambda got ", h, " ", i["connection_state"], " ", o))
	var pair: Dictionary = S.createSocketPair(false, 0, 0)
	S.closeConnection(pair["connection1"], 0, "bye", false)


func _process(_delta: float) -> bool:
	frames_left -= 1
	if frames_left == 0:
		print("lambda_quit: quitting")
		quit(0)
	return false
