## RPC round trip and RPCs per second through Godot's high-level multiplayer, for
## ENetMultiplayerPeer and SteamMultiplayerPeer in the same process and run: a server and a
## client, each with its own SceneMultiplayer on its own branch of the tree. Printed figures, not
## a pass/fail test. Run: bash scripts/bench-rpc.sh
extends SceneTree

const SECONDS_EACH := 3.0

var results := []


func _initialize() -> void:
	_run_all.call_deferred()


func _run_all() -> void:
	for kind in ["enet", "steam"]:
		results.append(await _measure(kind))
	print("RPCs between two SceneMultiplayers in one process, %d s each (frame-paced, as in a game;" % SECONDS_EACH)
	print("steamnet with SEND_RATE_MAX 64 MiB/s, where GNS's default is 256 KB/s)")
	print("peer    round trip (median)   reliable RPCs/s   unreliable RPCs/s")
	for r in results:
		print("%-6s  %14.2f ms   %15d   %17d" % [r["kind"], r["rtt_ms"], r["reliable"], r["unreliable"]])
	quit(0)


func _peer(kind: String) -> MultiplayerPeer:
	if kind == "enet":
		return ENetMultiplayerPeer.new()
	var peer = ClassDB.instantiate(&"SteamMultiplayerPeer")
	# GNS's default send rate is 256 KB/s; ENet has no limit. Lift it, as a game would.
	peer.options = {SteamNetworkingSockets.NETWORKING_CONFIG_SEND_RATE_MAX: 64 * 1024 * 1024}
	return peer


func _measure(kind: String) -> Dictionary:
	var port := 20000 + randi() % 20000
	var server_root := Node.new()
	server_root.name = "Server_" + kind
	var client_root := Node.new()
	client_root.name = "Client_" + kind
	root.add_child(server_root)
	root.add_child(client_root)
	var server_bench := preload("res://rpc_node.gd").new()
	var client_bench := preload("res://rpc_node.gd").new()
	server_root.add_child(server_bench)
	client_root.add_child(client_bench)
	var server_mp := SceneMultiplayer.new()
	var client_mp := SceneMultiplayer.new()
	set_multiplayer(server_mp, server_root.get_path())
	set_multiplayer(client_mp, client_root.get_path())
	var server_peer := _peer(kind)
	var client_peer := _peer(kind)
	server_peer.call("create_server", port)
	if kind == "enet":
		client_peer.call("create_client", "127.0.0.1", port)
	else:
		client_peer.call("create_client_ip", "127.0.0.1", port)
	server_mp.multiplayer_peer = server_peer
	client_mp.multiplayer_peer = client_peer
	while client_peer.get_connection_status() != MultiplayerPeer.CONNECTION_CONNECTED or client_mp.get_unique_id() == 0:
		await process_frame
	for i in 10:
		await process_frame
	# Round trips: one ping at a time.
	var samples := []
	var until := Time.get_ticks_msec() + int(SECONDS_EACH * 1000)
	while Time.get_ticks_msec() < until:
		client_bench.pong_at = 0
		var sent := Time.get_ticks_usec()
		client_bench.ping.rpc_id(1, sent)
		while client_bench.pong_at == 0 and Time.get_ticks_msec() < until:
			await process_frame
		if client_bench.pong_at != 0:
			samples.append((client_bench.pong_at - sent) / 1000.0)
	samples.sort()
	# Throughput: as many as the peer takes each frame, counted where they arrive.
	var counts := {}
	for mode in ["reliable", "unreliable"]:
		server_bench.received = 0
		until = Time.get_ticks_msec() + int(SECONDS_EACH * 1000)
		while Time.get_ticks_msec() < until:
			for i in 200:
				if mode == "reliable":
					client_bench.count_reliable.rpc_id(1)
				else:
					client_bench.count_unreliable.rpc_id(1)
			await process_frame
		for i in 30:
			await process_frame
		counts[mode] = int(server_bench.received / SECONDS_EACH)
	client_peer.close()
	server_peer.close()
	server_root.queue_free()
	client_root.queue_free()
	await process_frame
	return {"kind": kind, "rtt_ms": samples[samples.size() / 2] if samples.size() > 0 else -1.0,
		"reliable": counts["reliable"], "unreliable": counts["unreliable"]}
