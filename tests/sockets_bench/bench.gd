## Messages per second and round trips through the SteamNetworkingSockets singleton, next to
## Godot's ENetConnection doing the same in the same process and run: a server and a client on
## 127.0.0.1, both driven from this one script thread in a busy loop (ENet does its socket work
## inside service(); steamnet's driver thread does it while the script polls). Printed figures,
## not a pass/fail test. Both are called as a game calls them: ENet through typed
## variables, steamnet through the singleton's global name (as GodotSteam games write `Steam.`).
## Run: bash scripts/bench-gdscript.sh
extends SceneTree

const SECONDS_EACH := 2.0
const ROUND_TRIPS := 3000
const PING_BYTES := 32
const MESSAGE_BYTES := 64

## Runs of each, alternating; the run with the median message rate is reported (steamnet's
## two threads on this machine's two cores make single runs vary by a tenth, ENet's by 2%).
const RUNS := 5

var steam_server := 0


func _initialize() -> void:
	SteamNetworkingSockets.network_connection_status_changed.connect(_on_status)
	_run_all.call_deferred()


func _run_all() -> void:
	var enet_runs := []
	var steam_runs := []
	for i in RUNS:
		enet_runs.append(_enet())
		steam_runs.append(_steamnet())
	var enet := _median_run(enet_runs)
	var steam := _median_run(steam_runs)
	print("%d round trips of %d B (reliable, one at a time); %d B reliable messages for %.0f s; 127.0.0.1, one process; median of %d runs" % [ROUND_TRIPS, PING_BYTES, MESSAGE_BYTES, SECONDS_EACH, RUNS])
	print("steamnet: SEND_RATE_MAX 64 MiB/s (GNS's default is 256 KB/s), NO_NAGLE for the pings")
	print("peer       RTT p50     RTT p99     messages/s   µs of process CPU per message   (each run's messages/s)")
	for r in [enet, steam]:
		var rates: Array = (enet_runs if r == enet else steam_runs).map(func(run): return run["rate"])
		print("%-9s  %6.1f µs   %6.1f µs   %10d   %6.2f                          %s" % [r["kind"], r["p50"], r["p99"], r["rate"], r["cpu_us"], rates])
	print("steamnet / ENet: messages/s %.2fx, RTT p50 %.2fx" % [float(steam["rate"]) / enet["rate"], steam["p50"] / enet["p50"]])
	quit(0)


## CPU time this process has used (every thread: steamnet's driver included), from
## /proc/self/stat (Linux; clock ticks of 10 ms, fine over seconds).
func _cpu_usec() -> float:
	# /proc files report a length of 0, so read a line rather than the "whole file".
	var file := FileAccess.open("/proc/self/stat", FileAccess.READ)
	var stat := file.get_line()
	var fields := stat.substr(stat.rfind(")") + 2).split(" ")
	# After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
	return (int(fields[11]) + int(fields[12])) * 1e6 / 100.0


func _median_run(runs: Array) -> Dictionary:
	var sorted := runs.duplicate()
	sorted.sort_custom(func(a, b): return a["rate"] < b["rate"])
	return sorted[sorted.size() / 2]


func _percentiles(samples: Array) -> Array:
	samples.sort()
	return [samples[samples.size() / 2], samples[int(samples.size() * 0.99)]]


# ----- ENet ---------------------------------------------------------------------------------

func _enet_pump(host: ENetConnection) -> Array:
	## Service `host` once without waiting; the packets that arrived, as [peer, bytes].
	var got := []
	while true:
		var event: Array = host.service(0)
		if event[0] == ENetConnection.EVENT_NONE or event[0] == ENetConnection.EVENT_ERROR:
			break
		if event[0] == ENetConnection.EVENT_RECEIVE:
			var peer: ENetPacketPeer = event[1]
			got.append([peer, peer.get_packet()])
		elif event[0] == ENetConnection.EVENT_CONNECT:
			got.append([event[1], null])
	return got


func _enet() -> Dictionary:
	var port := 20000 + randi() % 20000
	var server := ENetConnection.new()
	server.create_host_bound("127.0.0.1", port, 8)
	var client := ENetConnection.new()
	client.create_host(1)
	var to_server := client.connect_to_host("127.0.0.1", port)
	var to_client: ENetPacketPeer = null
	while to_client == null or to_server.get_state() != ENetPacketPeer.STATE_CONNECTED:
		for item in _enet_pump(server):
			to_client = item[0]
		_enet_pump(client)
	var ping := PackedByteArray()
	ping.resize(PING_BYTES)
	var samples := []
	for i in ROUND_TRIPS:
		var sent := Time.get_ticks_usec()
		to_server.send(0, ping, ENetPacketPeer.FLAG_RELIABLE)
		client.flush()
		var echoed := false
		while not echoed:
			for item in _enet_pump(server):
				if item[1] != null:
					to_client.send(0, item[1], ENetPacketPeer.FLAG_RELIABLE)
					server.flush()
			for item in _enet_pump(client):
				echoed = echoed or item[1] != null
		samples.append(float(Time.get_ticks_usec() - sent))
	var message := PackedByteArray()
	message.resize(MESSAGE_BYTES)
	var received := 0
	var sent := 0
	var cpu := _cpu_usec()
	var started := Time.get_ticks_usec()
	var until := started + int(SECONDS_EACH * 1e6)
	while Time.get_ticks_usec() < until:
		# ENet queues without limit: keep a bounded backlog (as steamnet's send buffer does), so
		# what is counted is the delivered rate.
		if sent - received < 8000:
			for i in 100:
				to_server.send(0, message, ENetPacketPeer.FLAG_RELIABLE)
			sent += 100
		_enet_pump(client)
		for item in _enet_pump(server):
			if item[1] != null:
				received += 1
	var elapsed := (Time.get_ticks_usec() - started) / 1e6
	cpu = _cpu_usec() - cpu
	to_server.peer_disconnect_now()
	client.destroy()
	server.destroy()
	var p := _percentiles(samples)
	return {"kind": "ENet", "p50": p[0], "p99": p[1], "rate": int(received / elapsed), "cpu_us": cpu / max(received, 1)}


# ----- steamnet -----------------------------------------------------------------------------

func _on_status(handle: int, info: Dictionary, _old: int) -> void:
	if info["listen_socket"] != 0 and info["connection_state"] == SteamNetworkingSockets.CONNECTION_STATE_CONNECTING:
		SteamNetworkingSockets.acceptConnection(handle)
		steam_server = handle


func _steamnet() -> Dictionary:
	steam_server = 0
	var options := {SteamNetworkingSockets.NETWORKING_CONFIG_SEND_RATE_MAX: 64 * 1024 * 1024}
	var listen: int = SteamNetworkingSockets.createListenSocketIP("127.0.0.1:0", options)
	var client: int = SteamNetworkingSockets.connectByIPAddress(SteamNetworkingSockets.getListenSocketAddress(listen), options)
	while steam_server == 0 or SteamNetworkingSockets.getConnectionInfo(client)["connection_state"] != SteamNetworkingSockets.CONNECTION_STATE_CONNECTED:
		SteamNetworkingSockets.runNetworkingCallbacks()
	var ping := PackedByteArray()
	ping.resize(PING_BYTES)
	var samples := []
	for i in ROUND_TRIPS:
		var sent := Time.get_ticks_usec()
		SteamNetworkingSockets.sendMessageToConnection(client, ping, SteamNetworkingSockets.NETWORKING_SEND_RELIABLE_NO_NAGLE)
		var echoed := false
		while not echoed:
			for m in SteamNetworkingSockets.receiveMessagesOnConnection(steam_server, 16):
				SteamNetworkingSockets.sendMessageToConnection(steam_server, m["payload"], SteamNetworkingSockets.NETWORKING_SEND_RELIABLE_NO_NAGLE)
			echoed = SteamNetworkingSockets.receiveMessagesOnConnection(client, 16).size() > 0
		samples.append(float(Time.get_ticks_usec() - sent))
	var message := PackedByteArray()
	message.resize(MESSAGE_BYTES)
	var received := 0
	var cpu := _cpu_usec()
	var started := Time.get_ticks_usec()
	var until := started + int(SECONDS_EACH * 1e6)
	while Time.get_ticks_usec() < until:
		# Send until the send buffer is full (k_EResultLimitExceeded), then read what arrived.
		for i in 100:
			if SteamNetworkingSockets.sendMessageToConnection(client, message, SteamNetworkingSockets.NETWORKING_SEND_RELIABLE)["result"] != SteamNetworkingSockets.RESULT_OK:
				break
		received += SteamNetworkingSockets.receiveMessagesOnConnection(steam_server, 1000).size()
	var elapsed := (Time.get_ticks_usec() - started) / 1e6
	cpu = _cpu_usec() - cpu
	SteamNetworkingSockets.closeConnection(client, 0, "", false)
	SteamNetworkingSockets.closeConnection(steam_server, 0, "", false)
	SteamNetworkingSockets.closeListenSocket(listen)
	var p := _percentiles(samples)
	return {"kind": "steamnet", "p50": p[0], "p99": p[1], "rate": int(received / elapsed), "cpu_us": cpu / max(received, 1)}
