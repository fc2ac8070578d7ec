## The arena: players move discs around; positions travel unreliably on one lane, chat and game
## events reliably on another (see protocol.gd). The host is player 1 and also relays: it reads
## every client through one poll group and sends everyone a snapshot 20 times a second.
##
## API calls shown here: createListenSocketIP / createListenSocketP2P (host), connectByIPAddress /
## connectP2P (client), acceptConnection, setConnectionPollGroup, configureConnectionLanes,
## sendMessages on a lane, receiveMessagesOnPollGroup / receiveMessagesOnConnection,
## closeConnection with a reason (kick), and network_connection_status_changed for joins, leaves
## and why a connection ended. F3 shows the network panel (net_panel.gd).
extends Node2D

const Avatar := preload("res://demo/avatar.gd")
const Bot := preload("res://demo/bot.gd")
const DemoArgs := preload("res://demo/demo_args.gd")
const DemoCheck := preload("res://demo/check.gd")
const Hud := preload("res://demo/hud.gd")
const NetPanel := preload("res://demo/net_panel.gd")
const Protocol := preload("res://demo/protocol.gd")

const SPEED := 240.0
const COLORS := [Color("#e0565b"), Color("#4fa3e0"), Color("#6cc46a"), Color("#e0b44f"), Color("#b07be0"), Color("#4fd0c4")]

var is_host := false
var listen_socket := 0
var p2p_listen := 0
var poll_group := 0          ## host: every client connection
var server := 0              ## client: the connection to the host
var my_id := 0
var next_id := 2
var avatars := {}            ## player id -> Avatar
var connection_of := {}      ## host: player id -> connection
var player_of := {}          ## host: connection -> player id
var bots: Array[Bot] = []
var last_send_ms := 0
var ended_because := ""      ## client: why the last connection ended
var script_move := Vector2.ZERO  ## check mode: the scripted direction
var checker: DemoCheck

@onready var hud: Hud = $Hud
@onready var panel: NetPanel = $NetPanel


func _ready() -> void:
	DemoArgs.from_command_line()
	SteamNetworkingSockets.network_connection_status_changed.connect(_on_status)
	hud.chat_submitted.connect(_chat)
	hud.kick_requested.connect(_kick)
	hud.rejoin_requested.connect(_join)
	is_host = DemoArgs.mode == "host"
	if is_host:
		_host()
	else:
		_join()
	if DemoArgs.check:
		checker = DemoCheck.new(self)
		add_child(checker)
	if DemoArgs.screenshot != "":
		_screenshot.call_deferred()


## --screenshot=PATH (scripts/screenshots.sh): play a few seconds with the network panel open and
## some fake lag and loss, save the window to PATH, quit.
func _screenshot() -> void:
	panel.visible = true
	panel.set_lag_ms(40)
	panel.set_loss_percent(5)
	await get_tree().create_timer(6.0).timeout
	var image := get_viewport().get_texture().get_image()
	image.save_png(DemoArgs.screenshot)
	print("screenshots: saved %s" % DemoArgs.screenshot)
	get_tree().quit()


# ----- hosting --------------------------------------------------------------------------------

func _host() -> void:
	listen_socket = SteamNetworkingSockets.createListenSocketIP("0.0.0.0:%d" % DemoArgs.port, {})
	if listen_socket == 0:
		hud.say("[color=red]cannot listen on port %d (the output says why)[/color]" % DemoArgs.port)
		return
	# Port 0 lets the system pick a free one; the bots and the second instance need the real one.
	DemoArgs.port = int(SteamNetworkingSockets.getListenSocketAddress(listen_socket, true).rsplit(":", true, 1)[1])
	poll_group = SteamNetworkingSockets.createPollGroup()
	# Players may also join by our Steam ID, through the relay (virtual port 0).
	p2p_listen = SteamNetworkingSockets.createListenSocketP2P(0, {})
	my_id = 1
	_spawn(1, DemoArgs.player_name if DemoArgs.player_name != "" else "host", true)
	hud.say("hosting on port %d; F3: network panel" % DemoArgs.port)
	_show_steam_id.call_deferred()
	for i in DemoArgs.bots:
		bots.append(Bot.new("127.0.0.1:%d" % DemoArgs.port, i + 1))
	if DemoArgs.second_instance:
		var args := PackedStringArray(["--join=127.0.0.1:%d" % DemoArgs.port, "--name=second"])
		if DemoArgs.check:
			args.append("--check")
		hud.say("launched a second instance (pid %d)" % DemoArgs.launch_instance(args))


func _show_steam_id() -> void:
	while SteamNetworkingSockets.getIdentity() == "" and is_inside_tree():
		await get_tree().create_timer(0.5).timeout
	if is_inside_tree():
		hud.set_title("host %s: others can join by this Steam ID" % SteamNetworkingSockets.getIdentity().trim_prefix("steamid:"))


func _host_receive() -> void:
	for message in SteamNetworkingSockets.receiveMessagesOnPollGroup(poll_group, 256):
		var data := Protocol.decode(message)
		var conn: int = message["connection"]
		match data:
			["hello", var name]:
				_welcome(conn, str(name))
			["pos", var x, var y]:
				if player_of.has(conn):
					avatars[player_of[conn]].add_sample(Time.get_ticks_msec(), Vector2(x, y))
			["chat", _, var text]:
				_broadcast_chat(player_of.get(conn, 0), str(text))
			["final", _, var x, var y]:
				if checker:
					checker.on_final(player_of.get(conn, 0), Vector2(x, y))
				_broadcast(Protocol.LANE_EVENTS, ["final", player_of.get(conn, 0), x, y], conn)
			["report", var ok, var text]:
				if checker:
					checker.on_report(bool(ok), str(text))


## A client said hello: give it an id, tell it who is here, and tell everyone about it.
func _welcome(conn: int, name: String) -> void:
	var id := next_id
	next_id += 1
	connection_of[id] = conn
	player_of[conn] = id
	Protocol.send(conn, Protocol.LANE_EVENTS, ["welcome", id])
	for other in avatars:
		Protocol.send(conn, Protocol.LANE_EVENTS, ["join", other, avatars[other].display_name])
	_spawn(id, name, false)
	_broadcast(Protocol.LANE_EVENTS, ["join", id, name], conn)
	hud.say("%s joined (player %d)" % [name, id])
	hud.set_players(_player_list(), true)


func _broadcast(lane: int, message: Array, except := 0) -> void:
	for conn in player_of:
		if conn != except:
			Protocol.send(conn, lane, message)


func _broadcast_chat(from: int, text: String) -> void:
	var name: String = avatars[from].display_name if avatars.has(from) else "?"
	hud.say("%s: %s" % [name, text])
	if checker:
		checker.on_chat(from, text)
	_broadcast(Protocol.LANE_EVENTS, ["chat", from, text])


## Close a player's connection with a reason it will see (end reason and debug text).
func _kick(id: int, reason: String) -> void:
	if connection_of.has(id):
		var conn: int = connection_of[id]
		SteamNetworkingSockets.closeConnection(conn, SteamNetworkingSockets.CONNECTION_END_APP_MIN + 1, reason, true)
		_forget(conn, false)


## A player is gone: free its connection (unless already closed) and tell the others.
func _forget(conn: int, close := true) -> void:
	if close:
		SteamNetworkingSockets.closeConnection(conn, 0, "", false)
	if not player_of.has(conn):
		return
	var id: int = player_of[conn]
	player_of.erase(conn)
	connection_of.erase(id)
	if avatars.has(id):
		hud.say("%s left" % avatars[id].display_name)
		avatars[id].queue_free()
		avatars.erase(id)
	_broadcast(Protocol.LANE_EVENTS, ["leave", id])
	hud.set_players(_player_list(), true)


# ----- joining --------------------------------------------------------------------------------

func _join() -> void:
	ended_because = ""
	hud.hide_ended()
	if DemoArgs.mode == "join_steam_id":
		server = SteamNetworkingSockets.connectP2P(DemoArgs.steam_id, 0, {})
	else:
		server = SteamNetworkingSockets.connectByIPAddress(DemoArgs.address, {})
	if server == 0:
		hud.show_ended("could not connect (the output says why)")
		return
	hud.say("connecting to %s" % (DemoArgs.address if DemoArgs.mode == "join" else str(DemoArgs.steam_id)))


func _client_receive() -> void:
	for message in SteamNetworkingSockets.receiveMessagesOnConnection(server, 256):
		match Protocol.decode(message):
			["welcome", var id]:
				my_id = id
				_spawn(id, DemoArgs.player_name if DemoArgs.player_name != "" else "player %d" % id, true)
				hud.say("joined as player %d; F3: network panel" % id)
				if checker:
					checker.on_welcome()
			["join", var id, var name]:
				_spawn(id, str(name), false)
			["leave", var id]:
				if avatars.has(id):
					avatars[id].queue_free()
					avatars.erase(id)
			["snapshot", var positions]:
				var now := Time.get_ticks_msec()
				for i in range(0, positions.size(), 3):
					var id: int = positions[i]
					if id != my_id and avatars.has(id):
						avatars[id].add_sample(now, Vector2(positions[i + 1], positions[i + 2]))
			["chat", var from, var text]:
				var name: String = avatars[from].display_name if avatars.has(from) else "?"
				hud.say("%s: %s" % [name, text])
				if checker:
					checker.on_chat(from, str(text))
			["final", var id, var x, var y]:
				if checker:
					checker.on_final(id, Vector2(x, y))


# ----- both -----------------------------------------------------------------------------------

func _on_status(handle: int, info: Dictionary, _old_state: int) -> void:
	var state: int = info["connection_state"]
	for bot in bots:
		if bot.connection == handle:
			bot.on_status(info)
			return
	var ended := state in [SteamNetworkingSockets.CONNECTION_STATE_CLOSED_BY_PEER, SteamNetworkingSockets.CONNECTION_STATE_PROBLEM_DETECTED_LOCALLY]
	if is_host:
		if state == SteamNetworkingSockets.CONNECTION_STATE_CONNECTING and info["listen_socket"] in [listen_socket, p2p_listen]:
			SteamNetworkingSockets.acceptConnection(handle)
			SteamNetworkingSockets.setConnectionPollGroup(handle, poll_group)
			SteamNetworkingSockets.configureConnectionLanes(handle, 2, Protocol.LANE_PRIORITIES, Protocol.LANE_WEIGHTS)
		elif ended:
			_forget(handle)
	elif handle == server:
		if state == SteamNetworkingSockets.CONNECTION_STATE_CONNECTED:
			SteamNetworkingSockets.configureConnectionLanes(server, 2, Protocol.LANE_PRIORITIES, Protocol.LANE_WEIGHTS)
			Protocol.send(server, Protocol.LANE_EVENTS, ["hello", DemoArgs.player_name if DemoArgs.player_name != "" else "player"])
			panel.connection = server
		elif ended:
			# Why it ended: the host's reason code and text, or our own diagnosis (timeout...).
			ended_because = "connection ended: reason %d, %s" % [info["end_reason"], info["end_debug"]]
			SteamNetworkingSockets.closeConnection(server, 0, "", false)
			server = 0
			panel.connection = 0
			for id in avatars.keys():
				avatars[id].queue_free()
			avatars.clear()
			hud.show_ended(ended_because)
			if checker:
				checker.on_ended(info["end_debug"])


func _process(delta: float) -> void:
	var now := Time.get_ticks_msec()
	if is_host:
		_host_receive()
		if panel.connection == 0 and not connection_of.is_empty():
			panel.connection = connection_of.values()[0]
	elif server != 0:
		_client_receive()
	_move_me(delta)
	if now - last_send_ms >= Protocol.SEND_INTERVAL_MS:
		last_send_ms = now
		_send_positions()
		for bot in bots:
			bot.tick(now)


func _move_me(delta: float) -> void:
	if not avatars.has(my_id):
		return
	var direction := script_move if checker else Input.get_vector("ui_left", "ui_right", "ui_up", "ui_down")
	if DemoArgs.screenshot != "":
		var t := Time.get_ticks_msec() / 700.0
		direction = Vector2(cos(t), sin(t))
	var me: Avatar = avatars[my_id]
	me.position = (me.position + direction * SPEED * delta).clamp(Protocol.ARENA.position, Protocol.ARENA.end)


func _send_positions() -> void:
	if is_host:
		# Everyone's position in one snapshot: [id, x, y, id, x, y, ...].
		var positions := []
		for id in avatars:
			positions.append_array([id, avatars[id].position.x, avatars[id].position.y])
		_broadcast(Protocol.LANE_POSITIONS, ["snapshot", positions])
	elif server != 0 and avatars.has(my_id):
		var me: Avatar = avatars[my_id]
		Protocol.send(server, Protocol.LANE_POSITIONS, ["pos", me.position.x, me.position.y])


func _chat(text: String) -> void:
	if is_host:
		_broadcast_chat(my_id, text)
	elif server != 0:
		Protocol.send(server, Protocol.LANE_EVENTS, ["chat", my_id, text])


func _spawn(id: int, name: String, local: bool) -> void:
	if avatars.has(id):
		return
	var avatar := Avatar.new()
	avatar.player_id = id
	avatar.display_name = name
	avatar.local = local
	avatar.color = COLORS[id % COLORS.size()]
	avatar.position = Protocol.ARENA.get_center() + Vector2(60 * (id % 5) - 120, 40 * (id % 3) - 40)
	avatars[id] = avatar
	$Avatars.add_child(avatar)


func _player_list() -> Array:
	var out := []
	for id in avatars:
		out.append([id, avatars[id].display_name])
	return out


func _exit_tree() -> void:
	for bot in bots:
		bot.close()
	for conn in player_of.keys():
		SteamNetworkingSockets.closeConnection(conn, SteamNetworkingSockets.CONNECTION_END_APP_MIN, "the host left", true)
	if server != 0:
		SteamNetworkingSockets.closeConnection(server, 0, "player left", true)
	for socket in [listen_socket, p2p_listen]:
		if socket != 0:
			SteamNetworkingSockets.closeListenSocket(socket)


func _draw() -> void:
	draw_rect(Protocol.ARENA, Color("#1b2029"))
	draw_rect(Protocol.ARENA, Color("#566070"), false, 2.0)
