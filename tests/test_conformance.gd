## The singleton's ClassDB surface against the API contract: every method (argument names, types,
## defaults, return type), every signal and every constant. Each difference is listed.
extends "res://tests/support/test_case.gd"

const Contract = preload("res://tests/support/contract.gd")

var contract := Contract.load_contract()


func test_contract_is_readable() -> void:
	check(not contract.is_empty(), "contract at %s parses" % Contract.path())
	check_eq(contract.get("methods", []).size(), 43, "methods in the contract")


func test_vendored_contract_matches_shared() -> void:
	var shared := Contract.shared_path()
	if not FileAccess.file_exists(shared):
		check(true, "no ../shared here; the vendored copy is the contract")
		return
	check_eq(FileAccess.get_md5(Contract.VENDORED_PATH), FileAccess.get_md5(shared),
		"md5 of tests/api/networking_sockets.json equals that of %s (copy it over)" % shared)


func test_singleton_is_registered() -> void:
	check(Engine.has_singleton(Contract.CLASS_NAME), "engine singleton registered")
	check(ClassDB.class_exists(Contract.CLASS_NAME), "class registered")
	check_eq(ClassDB.get_parent_class(Contract.CLASS_NAME), &"Object", "parent class")
	check_eq(Engine.get_singleton(Contract.CLASS_NAME), SteamNetworkingSockets, "the global name is the singleton")


func _type_name(type: int) -> String:
	return "void" if type == TYPE_NIL else type_string(type)


func test_extensions_are_listed() -> void:
	check_eq(Contract.extension_methods().size(), 16, "methods in tests/api/extensions.json")


func test_methods_match_contract() -> void:
	var expected := Contract.implemented_methods(contract)
	expected.merge(Contract.extension_methods())
	var actual := {}
	for m in ClassDB.class_get_method_list(Contract.CLASS_NAME, true):
		actual[m["name"]] = m
	var diffs: Array[String] = []
	for name in expected:
		if not actual.has(name):
			diffs.append("missing method " + name)
			continue
		var want: Dictionary = expected[name]
		var have: Dictionary = actual[name]
		var want_params: Array = want["params"]
		var have_args: Array = have["args"]
		if want_params.size() != have_args.size():
			diffs.append("%s: %d args, contract has %d" % [name, have_args.size(), want_params.size()])
			continue
		var defaults: Array = have["default_args"]
		var first_default := want_params.size() - defaults.size()
		for i in want_params.size():
			var p: Dictionary = want_params[i]
			var a: Dictionary = have_args[i]
			if a["name"] != p["name"]:
				diffs.append("%s arg %d: named %s, contract %s" % [name, i, a["name"], p["name"]])
			if a["type"] != Contract.TYPE_BY_NAME[p["type"]]:
				diffs.append("%s(%s): type %s, contract %s" % [name, p["name"], _type_name(a["type"]), p["type"]])
			var has_default := i >= first_default
			if p.has("default") != has_default:
				diffs.append("%s(%s): default present=%s, contract %s" % [name, p["name"], has_default, p.has("default")])
			elif has_default:
				var d: Variant = defaults[i - first_default]
				var w: Variant = p["default"]
				if p["type"] == "int":
					w = int(w)
				if typeof(d) != typeof(w) or d != w:
					diffs.append("%s(%s): default %s, contract %s" % [name, p["name"], var_to_str(d), var_to_str(w)])
		var ret_type: int = have["return"]["type"]
		if ret_type != Contract.TYPE_BY_NAME[want["returns"]["type"]]:
			diffs.append("%s returns %s, contract %s" % [name, _type_name(ret_type), want["returns"]["type"]])
	for name in actual:
		if not expected.has(name):
			diffs.append("method not in contract: " + name)
	# An omitted method may come back only as a documented extension (getIdentity: issue 7).
	for name in Contract.omitted_methods(contract):
		if actual.has(name) and not Contract.extension_methods().has(name):
			diffs.append("omitted method is bound: " + name)
	check_eq(diffs, [] as Array[String], "method differences")


func test_signals_match_contract() -> void:
	var actual := {}
	for s in ClassDB.class_get_signal_list(Contract.CLASS_NAME, true):
		actual[s["name"]] = s
	var diffs: Array[String] = []
	var expected_signals: Array = contract["signals"] + Contract.extension_signals()
	for want in expected_signals:
		var name: String = want["name"]
		if not actual.has(name):
			diffs.append("missing signal " + name)
			continue
		var have_args: Array = actual[name]["args"]
		var want_args: Array = want["args"]
		if have_args.size() != want_args.size():
			diffs.append("%s: %d args, contract %d" % [name, have_args.size(), want_args.size()])
			continue
		for i in want_args.size():
			if have_args[i]["name"] != want_args[i]["name"]:
				diffs.append("%s arg %d: named %s, contract %s" % [name, i, have_args[i]["name"], want_args[i]["name"]])
			if have_args[i]["type"] != Contract.TYPE_BY_NAME[want_args[i]["type"]]:
				diffs.append("%s(%s): type %s, contract %s" % [name, want_args[i]["name"], _type_name(have_args[i]["type"]), want_args[i]["type"]])
	check_eq(actual.size(), expected_signals.size(), "signal count")
	check_eq(diffs, [] as Array[String], "signal differences")


func test_constants_match_contract() -> void:
	var expected := Contract.expected_constants(contract)
	var actual := ClassDB.class_get_integer_constant_list(Contract.CLASS_NAME, true)
	var diffs: Array[String] = []
	for name in expected:
		if not ClassDB.class_has_integer_constant(Contract.CLASS_NAME, name):
			diffs.append("missing constant " + name)
		elif Contract.constant(name) != expected[name]:
			diffs.append("%s = %d, contract %d" % [name, Contract.constant(name), expected[name]])
	for name in actual:
		if not expected.has(name):
			diffs.append("constant not in contract: " + name)
	for name in Contract.OMITTED_CONSTANTS:
		if ClassDB.class_has_integer_constant(Contract.CLASS_NAME, name):
			diffs.append("omitted constant is bound: " + name)
	check_eq(diffs, [] as Array[String], "constant differences")
	check_eq(actual.size(), expected.size(), "constant count")


func test_constants_reachable_from_gdscript() -> void:
	# Game code writes SteamNetworkingSockets.NAME; make sure that path works, misspellings included.
	check_eq(SteamNetworkingSockets.RESULT_OK, 1, "RESULT_OK")
	check_eq(SteamNetworkingSockets.NETWORKING_SEND_RELIABLE, 8, "NETWORKING_SEND_RELIABLE")
	check_eq(SteamNetworkingSockets.NETWORKING_SEND_URELIABLE_NO_NAGLE, 1, "misspelled URELIABLE kept")
	check_eq(SteamNetworkingSockets.CONNECTION_STATE_CONNECTED, 3, "CONNECTION_STATE_CONNECTED")
	check_eq(SteamNetworkingSockets.CONNECTION_END_REMOVE_MIN, 4000, "misspelled REMOVE_MIN kept")
	check_eq(SteamNetworkingSockets.NETWORKING_CONFIG_P2P_TURN_uSER_LIST, 108, "source spelling")
	check_eq(SteamNetworkingSockets.NETWORKING_CONFIG_P2P_TURN_USER_LIST, 108, "documented spelling")
	check_eq(SteamNetworkingSockets.NETWORKING_CONFIG_P2P_TRANSPORT_ICE_ALL, 2147483647, "ICE_ALL")
