## The API contract (networking_sockets.json) and what it says, for the tests that check the
## singleton against it. It is read from ../shared/api beside the checkout when present (the
## source of truth), else from the copy in tests/api (for machines without ../shared).
extends RefCounted

const VENDORED_PATH := "res://tests/api/networking_sockets.json"
## Methods bound beyond the contract (Networking Utils calls, steamnet extensions).
const EXTENSIONS_PATH := "res://tests/api/extensions.json"
const CLASS_NAME := "SteamNetworkingSockets"
## D25: removed from GodotSteam; the contract says omit.
const OMITTED_CONSTANTS := ["IDENTITY_TYPE_GOOGLE_STADIA"]

const TYPE_BY_NAME := {
	"void": TYPE_NIL, "int": TYPE_INT, "bool": TYPE_BOOL, "float": TYPE_FLOAT, "String": TYPE_STRING,
	"Dictionary": TYPE_DICTIONARY, "Array": TYPE_ARRAY, "PackedByteArray": TYPE_PACKED_BYTE_ARRAY,
	"PackedInt32Array": TYPE_PACKED_INT32_ARRAY,
}


static func shared_path() -> String:
	var env := OS.get_environment("STEAMNET_API_JSON")
	if env != "":
		return env
	return ProjectSettings.globalize_path("res://").path_join("../shared/api/networking_sockets.json").simplify_path()


static func path() -> String:
	var shared := shared_path()
	return shared if FileAccess.file_exists(shared) else VENDORED_PATH


static func load_contract() -> Dictionary:
	var text := FileAccess.get_file_as_string(path())
	var parsed: Variant = JSON.parse_string(text)
	return parsed if parsed is Dictionary else {}


static func implemented_methods(contract: Dictionary) -> Dictionary:
	var out := {}
	for m in contract.get("methods", []):
		if m.get("recommendation", "") != "omit":
			out[m["name"]] = m
	return out


## The extension methods, checked like contract methods.
static func extension_methods() -> Dictionary:
	var parsed: Variant = JSON.parse_string(FileAccess.get_file_as_string(EXTENSIONS_PATH))
	var out := {}
	if parsed is Dictionary:
		for m in parsed.get("methods", []):
			out[m["name"]] = m
	return out


## The extension signals (Networking Utils' relay_network_status), checked like contract signals.
static func extension_signals() -> Array:
	var parsed: Variant = JSON.parse_string(FileAccess.get_file_as_string(EXTENSIONS_PATH))
	return parsed.get("signals", []) if parsed is Dictionary else []


static func omitted_methods(contract: Dictionary) -> Array:
	var out := []
	for m in contract.get("methods", []):
		if m.get("recommendation", "") == "omit":
			out.append(m["name"])
	return out


## Every constant name -> value the singleton must expose.
static func expected_constants(contract: Dictionary) -> Dictionary:
	var out := {}
	for c in contract.get("constants", []):
		out[c["name"]] = int(c["value"])
	for enum_name in contract.get("enums", {}):
		for member in contract["enums"][enum_name]:
			out[member["name"]] = int(member["value"])
	for name in OMITTED_CONSTANTS:
		out.erase(name)
	# Correctly spelled aliases (D23, D24) carry the value of GodotSteam's name.
	var parsed: Variant = JSON.parse_string(FileAccess.get_file_as_string(EXTENSIONS_PATH))
	var aliases: Dictionary = parsed.get("constant_aliases", {}) if parsed is Dictionary else {}
	for alias in aliases:
		out[alias] = out[aliases[alias]]
	# steamnet's own config values (documented extensions).
	var own: Array = parsed.get("config_values", []) if parsed is Dictionary else []
	for c in own:
		out[c["name"]] = int(c["value"])
	return out


## Keys steamnet adds to a method's result (extensions; documented in README).
const EXTRA_RETURN_KEYS := {
	"receiveMessagesOnConnection": ["lane"],
	"receiveMessagesOnPollGroup": ["lane"],
}


## Key names of a method's returned Dictionary (or of the items of a returned Array), with
## steamnet's extension keys.
static func return_keys(contract: Dictionary, method: String) -> Array:
	var m: Dictionary = implemented_methods(contract).get(method, {})
	var ret: Dictionary = m.get("returns", {})
	var keys: Array = ret.get("keys", ret.get("item_keys", []))
	return keys.map(func(k): return k["name"]) + EXTRA_RETURN_KEYS.get(method, [])


## Keys steamnet adds to a nested Dictionary of a method's result ("method/key").
const EXTRA_NESTED_KEYS := {
	"getConnectionRealTimeStatus/connection_status": ["path"],
}


## Keys of a nested Dictionary in a method's result, e.g. connection_status, with steamnet's
## extension keys.
static func nested_keys(contract: Dictionary, method: String, key: String) -> Array:
	var m: Dictionary = implemented_methods(contract).get(method, {})
	for k in m.get("returns", {}).get("keys", []):
		if k["name"] == key:
			var names: Array = k.get("keys", k.get("item_keys", [])).map(func(x): return x["name"])
			return names + EXTRA_NESTED_KEYS.get(method + "/" + key, [])
	return []


static func signal_dict_keys(contract: Dictionary, signal_name: String, arg: String) -> Array:
	for s in contract.get("signals", []):
		if s["name"] == signal_name:
			return s.get("dict_keys", {}).get(arg, []).map(func(x): return x["name"])
	return []


static func constant(name: String) -> int:
	return ClassDB.class_get_integer_constant(CLASS_NAME, name)
