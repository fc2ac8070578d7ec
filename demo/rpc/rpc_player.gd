## A player of the @rpc arena. Its node name is its peer id, and that peer is its authority:
## only the owner moves it; the MultiplayerSynchronizer child copies `position` to everyone.
extends Node2D

const DemoArgs := preload("res://demo/demo_args.gd")

const SPEED := 240.0

## Set by rpc_arena.gd's check mode instead of the keyboard.
var script_move := Vector2.ZERO


func _enter_tree() -> void:
	set_multiplayer_authority(name.to_int())


func _process(delta: float) -> void:
	if is_multiplayer_authority():
		var direction := script_move if DemoArgs.check else Input.get_vector("ui_left", "ui_right", "ui_up", "ui_down")
		position += direction * SPEED * delta
	queue_redraw()


func _draw() -> void:
	draw_circle(Vector2.ZERO, 14.0, Color("#6cc46a") if is_multiplayer_authority() else Color("#4fa3e0"))
	draw_string(ThemeDB.fallback_font, Vector2(-30, -20), "peer " + name, HORIZONTAL_ALIGNMENT_CENTER, 60, 13)
