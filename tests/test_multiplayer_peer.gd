## SteamMultiplayerPeer called the way a buggy game would: Godot's usual Error values and an
## error message, never a crash. (Two- and three-process games over it: tests/multiplayer_game.)
extends "res://tests/support/test_case.gd"


func _free_port() -> int:
	var probe := PacketPeerUDP.new()
	probe.bind(0, "127.0.0.1")
	var port := probe.get_local_port()
	probe.close()
	return port


func test_is_a_multiplayer_peer() -> void:
	check(ClassDB.class_exists(&"SteamMultiplayerPeer"), "class registered")
	var peer = ClassDB.instantiate(&"SteamMultiplayerPeer")
	check(peer is MultiplayerPeer, "a MultiplayerPeer, usable as multiplayer.multiplayer_peer")
	check_eq(peer.get_connection_status(), MultiplayerPeer.CONNECTION_DISCONNECTED, "idle at first")
	check_eq(peer.get_unique_id(), 0, "no id before connecting")
	check_eq(peer.is_server_relay_supported(), true, "server relay")
	check_eq(peer.get_peer_map(), {}, "no peers")
	for method in ["create_host", "create_client", "get_steam64_from_peer_id", "get_peer_id_from_steam64",
			"get_peer_map", "set_config", "clear_config", "clear_all_configs", "create_server", "create_client_ip", "set_bind_ip"]:
		check(peer.has_method(method), "has " + method)
	for property in ["options", "no_nagle", "no_delay"]:
		check(property in peer, "has property " + property)


func test_bad_input_gets_godot_errors() -> void:
	var peer = ClassDB.instantiate(&"SteamMultiplayerPeer")
	for port in [0, -1, 70000]:
		check_eq(peer.create_server(port), ERR_INVALID_PARAMETER, "create_server port %d" % port)
		check_eq(peer.create_client_ip("127.0.0.1", port), ERR_INVALID_PARAMETER, "create_client_ip port %d" % port)
	check_eq(peer.create_server(_free_port(), -3), ERR_INVALID_PARAMETER, "negative max_clients")
	check_eq(peer.create_client_ip("not an address", 5000), ERR_INVALID_PARAMETER, "bad address")
	check_eq(peer.create_client_ip("0.0.0.0", 5000), ERR_INVALID_PARAMETER, "no host to connect to")
	check_eq(peer.create_host(0, {}), ERR_UNAVAILABLE, "P2P needs the relay")
	check_eq(peer.create_client(76561197960287930, 0, {}), ERR_UNAVAILABLE, "P2P needs the relay")
	check_eq(peer.put_packet(PackedByteArray([1])), ERR_UNCONFIGURED, "nothing to send on")
	peer.set_bind_ip("not an ip")
	peer.set_bind_ip("*")
	check_eq(peer.create_server(_free_port()), OK, "a server")
	check_eq(peer.get_unique_id(), 1, "the server is 1")
	check_eq(peer.create_server(_free_port()), ERR_ALREADY_IN_USE, "already a server")
	check_eq(peer.create_client_ip("127.0.0.1", 5000), ERR_ALREADY_IN_USE, "already active")
	peer.set_target_peer(424242)
	check_eq(peer.put_packet(PackedByteArray([1])), ERR_INVALID_PARAMETER, "no such peer")
	var huge := PackedByteArray()
	huge.resize(512 * 1024)  # over the maximum once the header is added
	peer.set_target_peer(0)
	check_eq(peer.put_packet(huge), ERR_OUT_OF_MEMORY, "packet over the maximum size")
	peer.disconnect_peer(999, true)
	peer.close()
	check_eq(peer.get_connection_status(), MultiplayerPeer.CONNECTION_DISCONNECTED, "closed")
	check_eq(peer.create_server(_free_port()), OK, "usable again after close")
	peer.close()


func test_config_for_the_next_connections() -> void:
	var peer = ClassDB.instantiate(&"SteamMultiplayerPeer")
	peer.set_config(S.NETWORKING_CONFIG_TIMEOUT_INITIAL, 250)
	check_eq(peer.options, {S.NETWORKING_CONFIG_TIMEOUT_INITIAL: 250}, "set_config")
	check_eq(peer.create_client_ip("127.0.0.1", _free_port()), OK, "connecting to nobody")
	var failed := func(): peer.poll(); return peer.get_connection_status() == MultiplayerPeer.CONNECTION_DISCONNECTED
	check(await until(failed, 5.0), "gives up after the configured 250 ms")
	peer.clear_config(S.NETWORKING_CONFIG_TIMEOUT_INITIAL)
	peer.set_config(12345, 1)
	check_eq(peer.create_client_ip("127.0.0.1", 5000), ERR_CANT_CREATE, "an unknown config value is refused")
	peer.clear_all_configs()
	check_eq(peer.options, {}, "clear_all_configs")
