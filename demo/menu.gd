## The demo's main menu: host, join by address or by Steam ID, or host and launch a second
## instance of this project joined to it; the @rpc version of the arena; the one-process chat. Started with
## arguments (see demo_args.gd) it skips the menu; headless without any it plays the scripted
## check that scripts/demo.sh runs: host, second instance and three bots.
extends Control

const DemoArgs := preload("res://demo/demo_args.gd")

# Made in _build(): a Control never added to the tree would outlive the menu.
var _port: SpinBox
var _bots: SpinBox
var _address: LineEdit
var _steam_id: LineEdit


func _ready() -> void:
	DemoArgs.parse(OS.get_cmdline_user_args())
	if DemoArgs.menu:
		_build()
		var buttons := find_children("*", "Button", true, false).size()
		print("demo menu %s: %d buttons" % ["ok" if buttons == 6 else "FAILED", buttons])
		if DemoArgs.check:
			get_tree().quit(0 if buttons == 6 else 1)
		return
	if DemoArgs.mode == "" and DisplayServer.get_name() == "headless":
		DemoArgs.parse(PackedStringArray(["--host=0", "--bots=3", "--second-instance", "--check"]))
	if DemoArgs.mode != "":
		_start.call_deferred()
		return
	_build()


func _start() -> void:
	get_tree().change_scene_to_file("res://demo/rpc/rpc_arena.tscn" if DemoArgs.rpc else "res://demo/arena.tscn")


func _build() -> void:
	_port = SpinBox.new()
	_bots = SpinBox.new()
	_address = LineEdit.new()
	_steam_id = LineEdit.new()
	var column := VBoxContainer.new()
	column.position = Vector2(80, 60)
	column.custom_minimum_size = Vector2(520, 0)
	add_child(column)
	var title := Label.new()
	title.text = "steamnet demo: GodotSteam's Networking Sockets on encrypted UDP, no Steam needed"
	column.add_child(title)

	_port.min_value = 1
	_port.max_value = 65535
	_port.value = DemoArgs.DEFAULT_PORT
	_bots.max_value = 16
	_bots.value = 2
	column.add_child(_row([_label("port"), _port, _label("bots"), _bots,
		_button("Host", func() -> void: _go(["--host=%d" % _port.value, "--bots=%d" % _bots.value])),
		_button("Host + launch a second instance", func() -> void:
			_go(["--host=%d" % _port.value, "--bots=%d" % _bots.value, "--second-instance"]))]))

	_address.text = "127.0.0.1:%d" % DemoArgs.DEFAULT_PORT
	_address.custom_minimum_size = Vector2(200, 0)
	column.add_child(_row([_label("address"), _address, _button("Join", func() -> void: _go(["--join=" + _address.text]))]))

	_steam_id.placeholder_text = "the host's Steam ID"
	_steam_id.custom_minimum_size = Vector2(200, 0)
	var by_id := _button("Join by Steam ID", func() -> void: _go(["--join-steam-id=" + _steam_id.text]))
	by_id.tooltip_text = "P2P through the relay: the host's title bar shows its Steam ID"
	column.add_child(_row([_label("Steam ID"), _steam_id, by_id]))

	var rpc := _button("@rpc arena (SteamMultiplayerPeer): host + second instance", func() -> void:
		_go(["--rpc", "--host=%d" % _port.value, "--second-instance"]))
	column.add_child(rpc)
	column.add_child(_button("Chat in one process (by address, then by Steam ID)", func() -> void:
		get_tree().change_scene_to_file("res://demo/chat.tscn")))


func _go(args: Array) -> void:
	DemoArgs.parse(PackedStringArray(args))
	_start()


func _row(children: Array) -> HBoxContainer:
	var row := HBoxContainer.new()
	for child in children:
		row.add_child(child)
	return row


func _label(text: String) -> Label:
	var label := Label.new()
	label.text = text
	return label


func _button(text: String, action: Callable) -> Button:
	var button := Button.new()
	button.text = text
	button.pressed.connect(action)
	return button
