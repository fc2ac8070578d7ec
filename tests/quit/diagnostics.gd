## A failed call says why: the documented failure value, plus a warning a developer can act on,
## rate-limited so that a loop cannot flood the log. And the LOG_LEVEL_* config values reach the
## debug output. Run as its own process (the rate limit is per process); a Logger catches what
## Godot prints, and this script exits 1 on any failed check.
extends SceneTree

## What the engine printed as warnings and errors, in order.
class Catcher extends Logger:
	var lines: Array[String] = []
	var mutex := Mutex.new()

	func _log_error(function: String, _file: String, _line: int, code: String, rationale: String,
			_editor_notify: bool, _error_type: int, _script_backtraces: Array[ScriptBacktrace]) -> void:
		mutex.lock()
		lines.append("%s %s %s" % [function, code, rationale])
		mutex.unlock()

	func _log_message(message: String, _error: bool) -> void:
		mutex.lock()
		lines.append(message)
		mutex.unlock()

	func take() -> Array[String]:
		mutex.lock()
		var out := lines.duplicate()
		lines.clear()
		mutex.unlock()
		return out


var S := SteamNetworkingSockets
var catcher := Catcher.new()
var passed := 0
var failed := 0


func check(ok: bool, what: String, seen: Array[String]) -> void:
	if ok:
		passed += 1
		print("ok   ", what)
	else:
		failed += 1
		print("FAIL ", what, "\n     printed: ", seen)


## Run `call`, and check that it returned `expected` and printed one line containing `needle`.
func expect_complaint(what: String, call: Callable, expected: Variant, needle: String) -> void:
	catcher.take()
	var got: Variant = call.call()
	var seen := catcher.take()
	var said := seen.any(func(line: String) -> bool: return line.contains(needle))
	check(got == expected and said, "%s -> %s, says '%s' (got %s)" % [what, str(expected), needle, str(got)], seen)


func _initialize() -> void:
	OS.add_logger(catcher)
	var listen := S.createListenSocketIP("127.0.0.1:0", {})
	var port := int(S.getListenSocketAddress(listen, true).rsplit(":", true, 1)[1])
	var pair: Dictionary = S.createSocketPair(false, 0, 0)
	var group := S.createPollGroup()

	expect_complaint("listen on an address that is not one", func() -> bool:
		var handle := S.createListenSocketIP("localhost", {})
		return handle != 0 and S.closeListenSocket(handle), true, "listening on [::]:0")
	expect_complaint("listen on a port in use", func() -> int:
		return S.createListenSocketIP("127.0.0.1:%d" % port, {}), 0, "cannot bind UDP 127.0.0.1:%d" % port)
	expect_complaint("connect to an address that is not one", func() -> int:
		return S.connectByIPAddress("example.org", {}), 0, "not an address")
	expect_complaint("an unknown config key", func() -> int:
		return S.connectByIPAddress("127.0.0.1:%d" % port, {987654: 1}), 0, "unknown config value 987654")
	expect_complaint("a global config key that does not exist", func() -> bool:
		return S.setGlobalConfigValueInt32(987654, 1), false, "unknown config value 987654")
	expect_complaint("send to a listen socket", func() -> int:
		return S.sendMessageToConnection(listen, PackedByteArray([1]), 8)["result"], S.RESULT_INVALID_PARAM,
		"handle %d is a listen socket, not a connection" % listen)
	expect_complaint("a poll group as a listen socket", func() -> bool:
		return S.closeListenSocket(group), false, "handle %d is a poll group, not a listen socket" % group)
	expect_complaint("a message on a lane that does not exist", func() -> int:
		return S.sendMessages([{"payload": PackedByteArray([1]), "lane": 3}], pair["connection1"], 8)[0],
		-S.RESULT_INVALID_PARAM, "lane 3 does not exist")
	S.closeConnection(pair["connection1"], 0, "", false)
	expect_complaint("send on a connection the peer closed", func() -> int:
		return S.sendMessageToConnection(pair["connection2"], PackedByteArray([1]), 8)["result"],
		S.RESULT_NO_CONNECTION, "has ended")
	expect_complaint("send on a connection we closed", func() -> int:
		return S.sendMessageToConnection(pair["connection1"], PackedByteArray([1]), 8)["result"],
		S.RESULT_INVALID_PARAM, "no connection has handle %d: it was closed" % pair["connection1"])

	# A good call says nothing.
	catcher.take()
	S.getConnectionInfo(pair["connection2"])
	check(catcher.take().is_empty(), "a good call prints nothing", [])

	# A loop of bad calls: a few lines, then silence.
	catcher.take()
	for i in 200:
		S.flushMessagesOnConnection(4000000000)
	var lines := catcher.take().filter(func(line: String) -> bool: return line.contains("flushMessagesOnConnection"))
	check(lines.size() >= 1 and lines.size() <= 6, "200 bad calls in a loop print %d lines (at most 6)" % lines.size(), lines)

	# LOG_LEVEL_MESSAGE raised: every message sent shows in the debug output.
	S.setDebugOutputFunction(S.NETWORKING_SOCKET_DEBUG_OUTPUT_TYPE_EVERYTHING)
	var live: Dictionary = S.createSocketPair(false, 0, 0)
	S.sendMessageToConnection(live["connection1"], PackedByteArray([1, 2, 3]), 8)
	S.runNetworkingCallbacks()
	var quiet := catcher.take().filter(func(line: String) -> bool: return line.contains("message sent"))
	check(quiet.is_empty(), "messages are not logged at LOG_LEVEL_MESSAGE's default", quiet)
	S.setGlobalConfigValueInt32(S.NETWORKING_CONFIG_LOG_LEVEL_MESSAGE, S.NETWORKING_SOCKET_DEBUG_OUTPUT_TYPE_EVERYTHING)
	S.sendMessageToConnection(live["connection1"], PackedByteArray([1, 2, 3]), 8)
	S.runNetworkingCallbacks()
	var logged := catcher.take().filter(func(line: String) -> bool: return line.contains("message sent"))
	check(logged.size() == 1, "with LOG_LEVEL_MESSAGE at EVERYTHING, a sent message is logged", logged)

	for handle in [pair["connection2"], live["connection1"], live["connection2"]]:
		S.closeConnection(handle, 0, "", false)
	S.closeListenSocket(listen)
	S.destroyPollGroup(group)
	S.runNetworkingCallbacks()
	OS.remove_logger(catcher)
	print("diagnostics: %d passed, %d failed" % [passed, failed])
	print("diagnostics: quitting")
	quit(1 if failed > 0 else 0)
