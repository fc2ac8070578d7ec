## The arena again, the high-level way: SteamMultiplayerPeer as the scene tree's multiplayer peer,
## a MultiplayerSpawner that creates a player for each peer on every machine, a
## MultiplayerSynchronizer in each player for its position, and @rpc for chat. Compare with
## arena.gd, which does the same with the raw API.
extends Node2D

const Wait := preload("res://demo/wait.gd")
const DemoArgs := preload("res://demo/demo_args.gd")

const PLAYER := preload("res://demo/rpc/rpc_player.tscn")

var peer := SteamMultiplayerPeer.new()
var heard := []
var _guest_pid := 0

@onready var players: Node2D = $Players
@onready var status: Label = $Status


func _ready() -> void:
	DemoArgs.from_command_line()
	if DemoArgs.mode == "host":
		if peer.create_server(DemoArgs.port, 8) != OK:
			status.text = "cannot host on port %d (the output says why)" % DemoArgs.port
			return
		multiplayer.multiplayer_peer = peer
		multiplayer.peer_connected.connect(_add_player)
		multiplayer.peer_disconnected.connect(func(id: int) -> void:
			if players.has_node(str(id)):
				players.get_node(str(id)).queue_free())
		_add_player(1)
		if DemoArgs.second_instance:
			var args := PackedStringArray(["--rpc", "--join=127.0.0.1:%d" % DemoArgs.port])
			if DemoArgs.check:
				args.append("--check")
			_guest_pid = DemoArgs.launch_instance(args)
	else:
		var address := DemoArgs.address.rsplit(":", true, 1)
		peer.create_client_ip(address[0], int(address[1]))
		multiplayer.multiplayer_peer = peer
	status.text = "@rpc arena over SteamMultiplayerPeer: I am peer %d" % multiplayer.get_unique_id()
	if DemoArgs.check:
		_check()


## Server only: the spawner replicates this to every peer, so each sees every player.
func _add_player(id: int) -> void:
	var player := PLAYER.instantiate()
	player.name = str(id)
	player.position = Vector2(200 + 80 * players.get_child_count(), 300)
	players.add_child(player, true)


@rpc("any_peer", "call_local", "reliable")
func chat(text: String) -> void:
	heard.append([multiplayer.get_remote_sender_id(), text])
	print("@rpc chat from peer %d: %s" % [multiplayer.get_remote_sender_id(), text])


## --check: the guest walks right and says hello by @rpc; the host must see both, then says
## goodbye; each side exits 0 only if it saw what it expected.
func _check() -> void:
	if DemoArgs.mode == "host":
		var guest := await Wait.until(get_tree(), func() -> bool: return players.get_child_count() >= 2, 20.0)
		var guest_node: Node2D = players.get_child(1) if guest else null
		var start_x := guest_node.position.x if guest else 0.0
		var heard_hello := await Wait.until(get_tree(), func() -> bool: return heard.any(func(h: Array) -> bool: return h[1] == "hello host"), 15.0)
		var moved := guest and await Wait.until(get_tree(), func() -> bool: return guest_node.position.x > start_x + 100.0, 10.0)
		chat.rpc("goodbye guest")
		var guest_ok := true
		if _guest_pid > 0:
			await Wait.until(get_tree(), func() -> bool: return not OS.is_process_running(_guest_pid), 15.0)
			guest_ok = OS.get_process_exit_code(_guest_pid) == 0
		var ok := guest and heard_hello and moved and guest_ok
		print("demo rpc %s: guest joined %s, @rpc chat heard %s, synchronized position followed %s, guest exit ok %s" % [
			"ok" if ok else "FAILED", guest, heard_hello, moved, guest_ok])
		get_tree().quit(0 if ok else 1)
	else:
		# A client learns its peer id from the server once connected.
		var mine := func() -> String: return str(multiplayer.get_unique_id())
		var spawned := await Wait.until(get_tree(), func() -> bool: return players.has_node(mine.call()), 20.0)
		status.text = "@rpc arena over SteamMultiplayerPeer: I am peer %s" % mine.call()
		chat.rpc("hello host")
		if spawned:
			players.get_node(mine.call()).script_move = Vector2.RIGHT
		var bye := await Wait.until(get_tree(), func() -> bool: return heard.any(func(h: Array) -> bool: return h[1] == "goodbye guest"), 20.0)
		print("demo rpc guest %s" % ["ok" if spawned and bye else "FAILED"])
		await get_tree().create_timer(0.3).timeout
		get_tree().quit(0 if spawned and bye else 1)

