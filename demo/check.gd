## --check: a short scripted game that verifies what the demo shows, for scripts/demo.sh on a
## machine without a display and for the test suite. The host (with --second-instance) plays
## against a second Godot process and bots; each side prints "demo check <what>: ok|FAILED".
## The host exits 0 only if all of its checks and the second instance's passed:
##   players      the second instance and every bot joined
##   chat         a chat line went each way
##   converged    after both stopped, each side shows the other's avatar where its owner says it is
##   lag          the lag slider's 150 ms shows in the measured ping
##   kick         a kicked bot hears "kicked by the host"
##   rejoin       the second instance, closed with a reason, shows it and joins again
extends Node

const Wait := preload("res://demo/wait.gd")
const Bot := preload("res://demo/bot.gd")
const DemoArgs := preload("res://demo/demo_args.gd")
const Protocol := preload("res://demo/protocol.gd")

const HOST_CHAT := "hello from the host"
const GUEST_CHAT := "hello from the second instance"
const LAG_MS := 150

var arena: Node
var results := {}
var heard: Array[String] = []
var finals := {}       ## player id -> the position its owner reported
var ended_debug := ""
var welcomes := 0
var guest_report := []  ## [ok, text] from the second instance


func _init(owner_arena: Node) -> void:
	arena = owner_arena


func _ready() -> void:
	if arena.is_host:
		_host_script()
	# A guest starts when the host welcomes it (on_welcome).


func _record(what: String, ok: bool, detail := "") -> void:
	results[what] = ok
	print("demo check %s: %s%s" % [what, "ok" if ok else "FAILED", " (" + detail + ")" if detail != "" else ""])


func _wait(seconds: float) -> void:
	await get_tree().create_timer(seconds).timeout



func on_chat(_from: int, text: String) -> void:
	heard.append(text)


func on_final(id: int, pos: Vector2) -> void:
	finals[id] = pos


func on_report(ok: bool, text: String) -> void:
	guest_report = [ok, text]


func on_ended(debug: String) -> void:
	ended_debug = debug
	if not arena.is_host and welcomes == 1:
		_guest_rejoin()


func on_welcome() -> void:
	welcomes += 1
	if welcomes == 1:
		_guest_script()
	else:
		var ok := results.values().all(func(v: bool) -> bool: return v)
		var failed := results.keys().filter(func(k: String) -> bool: return not results[k])
		Protocol.send(arena.server, Protocol.LANE_EVENTS, ["report", ok, "failed: %s" % [failed] if not ok else "all passed"])
		await _wait(0.5)
		print("demo second instance %s" % ["ok" if ok else "FAILED"])
		get_tree().quit(0 if ok else 1)


## Move in `direction` for `seconds`, then stop.
func _walk(direction: Vector2, seconds: float) -> void:
	arena.script_move = direction
	await _wait(seconds)
	arena.script_move = Vector2.ZERO


## Both sides: walk, chat, stop, report where we stopped, and check where the other stopped.
func _play(my_chat: String, their_chat: String, their_id: int, path: Array) -> void:
	arena._chat(my_chat)
	for leg in path:
		await _walk(leg[0], leg[1])
	_record("chat", await Wait.until(get_tree(), func() -> bool: return their_chat in heard, 10.0), "heard %s" % [heard])
	await _wait(0.8)  # let the last position updates arrive and the interpolation settle
	var me: Vector2 = arena.avatars[arena.my_id].position
	if arena.is_host:
		arena._broadcast(Protocol.LANE_EVENTS, ["final", arena.my_id, me.x, me.y])
	else:
		Protocol.send(arena.server, Protocol.LANE_EVENTS, ["final", arena.my_id, me.x, me.y])
	var got := await Wait.until(get_tree(), func() -> bool: return finals.has(their_id), 10.0)
	# Converged: the other avatar comes to rest where its owner says it stopped.
	var off_by := func() -> float:
		var shown: Vector2 = arena.avatars[their_id].position if arena.avatars.has(their_id) else Vector2.INF
		return shown.distance_to(finals.get(their_id, Vector2.ZERO))
	await Wait.until(get_tree(), func() -> bool: return off_by.call() < 1.0, 3.0)
	var off: float = off_by.call()
	var shown: Vector2 = arena.avatars[their_id].position if arena.avatars.has(their_id) else Vector2.INF
	_record("converged", got and off < 1.0, "shown %.1f px from where player %d stopped: %s vs %s" % [off, their_id, shown, finals.get(their_id)])


func _guest_script() -> void:
	await _play(GUEST_CHAT, HOST_CHAT, 1, [[Vector2.LEFT, 1.0], [Vector2.UP, 0.6]])
	# The host now closes our connection with a reason (see _host_script); on_ended rejoins.


func _guest_rejoin() -> void:
	_record("reason shown", ended_debug.contains("round over"), "'%s'" % ended_debug)
	await _wait(0.5)
	arena._join()


func _host_script() -> void:
	var expected := 2 + DemoArgs.bots
	_record("players", await Wait.until(get_tree(), func() -> bool: return arena.avatars.size() >= expected, 30.0),
		"%d of %d in the arena" % [arena.avatars.size(), expected])
	var guest := _guest_id()
	if guest == 0:
		_finish()
		return
	await _play(HOST_CHAT, GUEST_CHAT, guest, [[Vector2.RIGHT, 1.0], [Vector2.DOWN, 0.6]])

	var before := await _ping(arena.connection_of[guest])
	arena.panel.set_lag_ms(LAG_MS)
	await _wait(2.5)
	var after := await _ping(arena.connection_of[guest])
	arena.panel.set_lag_ms(0)
	_record("lag", after - before >= LAG_MS * 2 / 3, "ping %d ms, then %d ms with %d ms of fake lag" % [before, after, LAG_MS])

	if not arena.bots.is_empty():
		var bot: Bot = arena.bots[0]
		var bot_id := _id_named("bot 1")
		arena._kick(bot_id, "kicked by the host")
		_record("kick", await Wait.until(get_tree(), func() -> bool: return bot.kicked_because.contains("kicked by the host"), 5.0),
			"the bot heard '%s'" % bot.kicked_because)

	# End the guest's round: it must show why and join again.
	arena._kick(guest, "round over: rejoin")
	var back := await Wait.until(get_tree(), func() -> bool: return _guest_id() != 0 and _guest_id() != guest, 15.0)
	var reported := await Wait.until(get_tree(), func() -> bool: return not guest_report.is_empty(), 10.0)
	_record("rejoin", back, "the second instance came back as player %d" % _guest_id())
	_record("second instance", reported and guest_report[0], str(guest_report[1]) if reported else "no report")
	_finish()


func _guest_id() -> int:
	return _id_named("second")


func _id_named(name: String) -> int:
	for id in arena.avatars:
		if arena.avatars[id].display_name == name:
			return id
	return 0


## The ping of `connection`, the best of a second of readings (ms).
func _ping(connection: int) -> int:
	var best := 1 << 30
	for i in 10:
		var status: Dictionary = SteamNetworkingSockets.getConnectionRealTimeStatus(connection, 0)
		if status["response"] == SteamNetworkingSockets.RESULT_OK and status["connection_status"]["ping"] >= 0:
			best = mini(best, status["connection_status"]["ping"])
		await _wait(0.1)
	return best


func _finish() -> void:
	var failed := results.keys().filter(func(k: String) -> bool: return not results[k])
	if failed.is_empty():
		print("demo ok: every check passed (%s)" % ", ".join(results.keys()))
	else:
		print("demo FAILED: %s" % ", ".join(failed))
	await _wait(0.3)
	get_tree().quit(0 if failed.is_empty() else 1)
