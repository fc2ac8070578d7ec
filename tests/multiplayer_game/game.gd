## One game script for Godot's high-level multiplayer, run with ENetMultiplayerPeer or with
## SteamMultiplayerPeer (`-- --peer=enet|steam`): @rpc in every transfer mode and channel,
## rpc_id, a MultiplayerSpawner spawning a player per peer, a MultiplayerSynchronizer
## replicating positions, a client leaving and rejoining, connection_failed for a dead address,
## and server_disconnected when the server goes. Each process prints what it observed as one
## JSON line; run.sh checks it and compares the ENet run with the steamnet run.
##   server: -- --server --port=P --clients=N --rejoins=R --peer=K
##   client: -- --client --port=P --dead-port=D [--rejoin] --peer=K
extends Node

var args := {}
var observed := {}
var players: Node
var spawner: MultiplayerSpawner
var ready_count := 0
var disconnects := 0
var connects := 0
var echoes := {}
var rejoined := false
var done_at := 0


func _ready() -> void:
	for arg in OS.get_cmdline_user_args():
		var kv := arg.trim_prefix("--").split("=")
		args[kv[0]] = kv[1] if kv.size() > 1 else "1"
	players = Node.new()
	players.name = "Players"
	add_child(players)
	spawner = MultiplayerSpawner.new()
	spawner.name = "Spawner"
	spawner.spawn_function = _spawn_player
	add_child(spawner)
	spawner.spawn_path = spawner.get_path_to(players)
	multiplayer.peer_connected.connect(_on_peer_connected)
	multiplayer.peer_disconnected.connect(_on_peer_disconnected)
	multiplayer.connected_to_server.connect(_on_connected_to_server)
	multiplayer.connection_failed.connect(_on_connection_failed)
	multiplayer.server_disconnected.connect(_on_server_disconnected)
	get_tree().create_timer(30.0).timeout.connect(func(): _finish("timed out"))
	if args.has("server"):
		var peer := _new_peer()
		var err: int = peer.create_server(int(args["port"]), 8)
		if err != OK:
			_finish("create_server: %s" % error_string(err))
			return
		multiplayer.multiplayer_peer = peer
		print("multiplayer_game: listening")
	else:
		# First a dead address: it must end in connection_failed.
		_connect(int(args["dead-port"]))


func _new_peer() -> MultiplayerPeer:
	if args.get("peer", "steam") == "enet":
		return ENetMultiplayerPeer.new()
	var peer = ClassDB.instantiate(&"SteamMultiplayerPeer")
	peer.options = {SteamNetworkingSockets.NETWORKING_CONFIG_TIMEOUT_INITIAL: 1500}
	return peer


func _connect(port: int) -> void:
	var peer := _new_peer()
	var err: int
	if peer is ENetMultiplayerPeer:
		err = peer.create_client("127.0.0.1", port)
		if err == OK:
			# ENet would wait up to 30 s for a dead address; match steamnet's 1.5 s.
			peer.get_peer(1).set_timeout(200, 1000, 1500)
	else:
		err = peer.create_client_ip("127.0.0.1", port)
	if err != OK:
		_finish("create_client: %s" % error_string(err))
		return
	multiplayer.multiplayer_peer = peer


func _spawn_player(id: int) -> Node:
	var player := Node2D.new()
	player.name = str(id)
	var sync := MultiplayerSynchronizer.new()
	var config := SceneReplicationConfig.new()
	config.add_property(NodePath(".:position"))
	sync.replication_config = config
	player.add_child(sync)
	player.set_multiplayer_authority(id)
	return player


func _on_peer_connected(id: int) -> void:
	connects += 1
	if multiplayer.is_server():
		spawner.spawn(id)


func _on_peer_disconnected(id: int) -> void:
	disconnects += 1
	if multiplayer.is_server():
		var player := players.get_node_or_null(str(id))
		if player != null:
			player.queue_free()  # the spawner takes it away on every client too


func _on_connection_failed() -> void:
	observed["connection_failed"] = true
	multiplayer.multiplayer_peer = null
	_connect(int(args["port"]))


func _on_connected_to_server() -> void:
	observed["connected_to_server"] = observed.get("connected_to_server", 0) + 1
	if rejoined:
		ready_up.rpc_id(1)


func _on_server_disconnected() -> void:
	observed["server_disconnected"] = true
	_finish("")


func _process(_delta: float) -> void:
	if args.has("server"):
		var wanted := int(args["clients"]) + int(args.get("rejoins", "0"))
		if ready_count >= wanted and done_at == 0:
			done_at = Time.get_ticks_msec() + 500
		if done_at != 0 and Time.get_ticks_msec() > done_at:
			observed["ready"] = ready_count
			observed["connects"] = connects
			observed["disconnects"] = disconnects
			observed["players_spawned"] = players.get_child_count()
			_finish("")
		return
	if multiplayer.multiplayer_peer == null or multiplayer.multiplayer_peer.get_connection_status() != MultiplayerPeer.CONNECTION_CONNECTED:
		return
	if rejoined:
		return
	var me := multiplayer.get_unique_id()
	var mine := players.get_node_or_null(str(me))
	if mine != null:
		mine.position = Vector2(me % 1000, 7)  # we are its authority: the synchronizer sends it
	# Ask for echoes in every mode until each has come back (unreliable ones may be lost).
	for mode in ["reliable", "unreliable_ordered", "unreliable"]:
		if not echoes.has(mode):
			call("ask_" + mode)
	var others := players.get_children().filter(func(p): return p.name != str(me))
	var other_synced := others.any(func(p): return p.position.y == 7.0)
	if echoes.size() == 3 and players.get_child_count() == int(args.get("players", "1")) and (others.is_empty() or other_synced):
		if not observed.has("echoes"):
			observed["echoes"] = echoes.keys()
			observed["echoes"].sort()
			observed["players_seen"] = players.get_child_count()
			observed["other_position_replicated"] = other_synced
			ready_up.rpc_id(1)
			if args.has("rejoin"):
				rejoined = true
				# Leave once the message is surely out (close() drops what is queued), then come
				# back with a new peer.
				get_tree().create_timer(0.5).timeout.connect(_rejoin)


func _rejoin() -> void:
	multiplayer.multiplayer_peer.close()
	multiplayer.multiplayer_peer = null
	for p in players.get_children():
		p.queue_free()
	_connect(int(args["port"]))


func ask_reliable() -> void:
	hello.rpc_id(1, "reliable")


func ask_unreliable_ordered() -> void:
	hello_ordered.rpc_id(1, "unreliable_ordered")


func ask_unreliable() -> void:
	hello_unreliable.rpc_id(1, "unreliable")


@rpc("any_peer", "call_remote", "reliable", 0)
func hello(mode: String) -> void:
	echo.rpc_id(multiplayer.get_remote_sender_id(), mode, multiplayer.get_remote_sender_id())


@rpc("any_peer", "call_remote", "unreliable_ordered", 1)
func hello_ordered(mode: String) -> void:
	echo.rpc_id(multiplayer.get_remote_sender_id(), mode, multiplayer.get_remote_sender_id())


@rpc("any_peer", "call_remote", "unreliable", 2)
func hello_unreliable(mode: String) -> void:
	echo.rpc_id(multiplayer.get_remote_sender_id(), mode, multiplayer.get_remote_sender_id())


@rpc("authority", "call_remote", "reliable", 3)
func echo(mode: String, seen_as: int) -> void:
	if seen_as == multiplayer.get_unique_id():
		echoes[mode] = true


@rpc("any_peer", "call_remote", "reliable")
func ready_up() -> void:
	ready_count += 1


func _finish(problem: String) -> void:
	if problem != "":
		observed["problem"] = problem
	var role := "server" if args.has("server") else "client"
	print("multiplayer_game: %s result %s" % [role, JSON.stringify(observed, "", true)])
	get_tree().quit(0 if problem == "" else 1)
