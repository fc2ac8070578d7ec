## Base class of the test suites: assertions that record failures instead of stopping, helpers
## that wait for frames, and cleanup of the handles a test made.
extends RefCounted

var tree: SceneTree
var failures: Array[String] = []
var checks := 0
## Connection handles to close after the test, so one test's leftovers never reach the next.
var _connections: Array[int] = []
var _poll_groups: Array[int] = []
var _listen_sockets: Array[int] = []

var S := SteamNetworkingSockets


func check(condition: bool, what: String) -> bool:
	checks += 1
	if not condition:
		failures.append(what)
	return condition


func check_eq(actual: Variant, expected: Variant, what: String) -> bool:
	checks += 1
	# Compare types too: 1 == 1.0 and "1" vs &"1" must not pass by accident.
	var same: bool = typeof(actual) == typeof(expected) and actual == expected
	if not same:
		failures.append("%s: expected %s (%s), got %s (%s)" % [
			what, var_to_str(expected), type_string(typeof(expected)),
			var_to_str(actual), type_string(typeof(actual))])
	return same


func check_keys(dict: Dictionary, expected: Array, what: String) -> bool:
	var have: Array = dict.keys()
	have.sort()
	var want := expected.duplicate()
	want.sort()
	return check_eq(have, want, what + " keys")


func frames(count: int = 1) -> void:
	for i in count:
		await tree.process_frame


func track_connection(handle: int) -> int:
	_connections.append(handle)
	return handle


func track_poll_group(handle: int) -> int:
	_poll_groups.append(handle)
	return handle


func track_listen_socket(handle: int) -> int:
	_listen_sockets.append(handle)
	return handle


## Wait frame by frame until `condition` holds; false if `seconds` pass first.
func until(condition: Callable, seconds: float = 10.0) -> bool:
	var deadline := Time.get_ticks_msec() + int(seconds * 1000.0)
	while not condition.call():
		if Time.get_ticks_msec() > deadline:
			return false
		await tree.process_frame
	return true


## Accept, on `listen`, the connection the caller opened as `caller` (checking it with `on_incoming`
## (handle, info) first, if given); wait until both ends are connected. Returns the accepted
## handle (closed after the test), or 0 if that did not happen within 10 s.
func accept_and_connect(listen: int, caller: int, what: String, on_incoming := Callable()) -> int:
	var incoming := [0]
	var on_status := func(handle: int, info: Dictionary, _old: int):
		if info["listen_socket"] == listen and info["connection_state"] == S.CONNECTION_STATE_CONNECTING:
			incoming[0] = handle
			if on_incoming.is_valid():
				on_incoming.call(handle, info)
			check_eq(S.acceptConnection(handle), S.RESULT_OK, what + ": accept")
	S.network_connection_status_changed.connect(on_status)
	var connected: bool = await until(func(): return incoming[0] != 0 and S.getConnectionInfo(caller).get("connection_state") == S.CONNECTION_STATE_CONNECTED)
	S.network_connection_status_changed.disconnect(on_status)
	check(connected, what + ": connected")
	return track_connection(incoming[0]) if incoming[0] != 0 else 0


## A connected in-process pair, closed again after the test.
func make_pair(id1: int = 0, id2: int = 0) -> Array[int]:
	var pair: Dictionary = S.createSocketPair(false, id1, id2)
	check_eq(pair.get("success"), true, "createSocketPair success")
	return [track_connection(pair["connection1"]), track_connection(pair["connection2"])]


func cleanup() -> void:
	for h in _connections:
		S.closeConnection(h, 0, "test cleanup", false)
	for g in _poll_groups:
		S.destroyPollGroup(g)
	for l in _listen_sockets:
		S.closeListenSocket(l)
	_connections.clear()
	_poll_groups.clear()
	_listen_sockets.clear()
	# Deliver whatever the closes posted now, so it does not reach the next test's handlers.
	S.runNetworkingCallbacks()
