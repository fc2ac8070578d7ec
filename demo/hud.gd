## The arena's overlay: title, chat, the player list (the host can kick), and the panel that says
## why a connection ended with a Rejoin button. Built in code to keep the scene file small.
extends CanvasLayer

signal chat_submitted(text: String)
signal kick_requested(player_id: int, reason: String)
signal rejoin_requested

var _title := Label.new()
var _log := RichTextLabel.new()
var _input := LineEdit.new()
var _players := VBoxContainer.new()
var _kick_reason := LineEdit.new()
var _ended := PanelContainer.new()
var _ended_text := Label.new()


func _ready() -> void:
	var column := VBoxContainer.new()
	column.position = Vector2(980, 12)
	column.custom_minimum_size = Vector2(290, 0)
	add_child(column)
	_title.text = "steamnet arena"
	_title.autowrap_mode = TextServer.AUTOWRAP_WORD
	_title.custom_minimum_size = Vector2(290, 0)
	column.add_child(_title)
	column.add_child(_players)
	_kick_reason.placeholder_text = "kick reason (the player sees it)"
	_kick_reason.visible = false
	column.add_child(_kick_reason)
	_log.custom_minimum_size = Vector2(290, 300)
	_log.bbcode_enabled = true
	_log.scroll_following = true
	column.add_child(_log)
	_input.placeholder_text = "chat (Enter)"
	_input.keep_editing_on_text_submit = true
	_input.text_submitted.connect(func(text: String) -> void:
		if text.strip_edges() != "":
			chat_submitted.emit(text)
		_input.clear())
	column.add_child(_input)

	var box := VBoxContainer.new()
	_ended.add_child(box)
	_ended.position = Vector2(300, 220)
	_ended_text.custom_minimum_size = Vector2(360, 0)
	_ended_text.autowrap_mode = TextServer.AUTOWRAP_WORD
	box.add_child(_ended_text)
	var rejoin := Button.new()
	rejoin.text = "Rejoin"
	rejoin.pressed.connect(func() -> void: rejoin_requested.emit())
	box.add_child(rejoin)
	var menu := Button.new()
	menu.text = "Back to the menu"
	menu.pressed.connect(func() -> void: get_tree().change_scene_to_file("res://demo/menu.tscn"))
	box.add_child(menu)
	_ended.hide()
	add_child(_ended)


func say(line: String) -> void:
	print(line.replace("[color=red]", "").replace("[/color]", ""))
	_log.append_text(line + "\n")


func set_title(text: String) -> void:
	_title.text = text


## `players` is [[id, name], ...]; with `can_kick` each gets a Kick button.
func set_players(players: Array, can_kick: bool) -> void:
	for child in _players.get_children():
		child.queue_free()
	for entry in players:
		var row := HBoxContainer.new()
		var label := Label.new()
		label.text = "%d  %s" % [entry[0], entry[1]]
		label.size_flags_horizontal = Control.SIZE_EXPAND_FILL
		row.add_child(label)
		if can_kick and entry[0] != 1:
			var kick := Button.new()
			kick.text = "Kick"
			var id: int = entry[0]
			kick.pressed.connect(func() -> void:
				var reason := _kick_reason.text.strip_edges()
				kick_requested.emit(id, "kicked by the host" + (": " + reason if reason != "" else "")))
			row.add_child(kick)
		_players.add_child(row)
	_kick_reason.visible = can_kick and players.size() > 1


func show_ended(why: String) -> void:
	_ended_text.text = why
	_ended.show()
	say("[color=red]%s[/color]" % why)


func hide_ended() -> void:
	_ended.hide()
