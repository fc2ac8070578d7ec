## The network panel (F3): live graphs from getConnectionRealTimeStatus, the text of
## getDetailedConnectionStatus, and sliders for the fake network conditions GNS offers
## (NETWORKING_CONFIG_FAKE_PACKET_*), which take effect at once on every connection.
extends CanvasLayer

const Graph := preload("res://demo/graph.gd")

const SAMPLE_MS := 100

## The connection to show (0: none).
var connection := 0
var _graphs := {}
var _detail := Label.new()
var _root := PanelContainer.new()
var _last_sample_ms := 0
var _last_detail_ms := 0
var _sliders := {}


func _ready() -> void:
	_root.position = Vector2(8, 8)
	add_child(_root)
	var columns := HBoxContainer.new()
	_root.add_child(columns)
	var graphs := VBoxContainer.new()
	columns.add_child(graphs)
	for spec in [["ping", "ping", "ms"], ["quality", "quality local / remote", "%"],
			["bytes", "bytes in / out per s", "B/s"], ["packets", "packets in / out per s", "/s"],
			["rate", "send rate", "B/s"], ["queued", "queued reliable / unreliable", "B"],
			["queue_time", "queue time lane 0 / 1", "µs"]]:
		var graph := Graph.new(spec[1], spec[2])
		graphs.add_child(graph)
		_graphs[spec[0]] = graph
	var side := VBoxContainer.new()
	side.custom_minimum_size = Vector2(260, 0)
	columns.add_child(side)
	for slider in [["lag (ms)", 0, 500, "_set_lag"], ["loss (%)", 0, 50, "_set_loss"],
			["reorder (%)", 0, 50, "_set_reorder"], ["duplicate (%)", 0, 50, "_set_duplicate"]]:
		_sliders[slider[3]] = _add_slider(side, slider[0], slider[1], slider[2], Callable(self, slider[3]))
	_detail.add_theme_font_size_override("font_size", 10)
	_detail.custom_minimum_size = Vector2(260, 0)
	_detail.autowrap_mode = TextServer.AUTOWRAP_WORD
	side.add_child(_detail)
	visible = false


func _unhandled_input(event: InputEvent) -> void:
	if event is InputEventKey and event.pressed and event.keycode == KEY_F3:
		visible = not visible


func _add_slider(parent: Control, label_text: String, low: float, high: float, apply: Callable) -> HSlider:
	var label := Label.new()
	label.text = "%s: 0" % label_text
	parent.add_child(label)
	var slider := HSlider.new()
	slider.min_value = low
	slider.max_value = high
	slider.value_changed.connect(func(value: float) -> void:
		label.text = "%s: %d" % [label_text, value]
		apply.call(value))
	parent.add_child(slider)
	return slider


## Fake network conditions, set globally: they apply to every connection of this process, live.
func _set_lag(ms: float) -> void:
	SteamNetworkingSockets.setGlobalConfigValueInt32(SteamNetworkingSockets.NETWORKING_CONFIG_FAKE_PACKET_LAG_SEND, int(ms))


func _set_loss(percent: float) -> void:
	SteamNetworkingSockets.setGlobalConfigValueFloat(SteamNetworkingSockets.NETWORKING_CONFIG_FAKE_PACKET_LOSS_SEND, percent)


func _set_reorder(percent: float) -> void:
	SteamNetworkingSockets.setGlobalConfigValueFloat(SteamNetworkingSockets.NETWORKING_CONFIG_FAKE_PACKET_REORDER_SEND, percent)


func _set_duplicate(percent: float) -> void:
	SteamNetworkingSockets.setGlobalConfigValueFloat(SteamNetworkingSockets.NETWORKING_CONFIG_FAKE_PACKET_DUP_SEND, percent)


## For scripted checks and screenshots: move a slider, as a player would.
func set_lag_ms(ms: int) -> void:
	_sliders["_set_lag"].value = ms


func set_loss_percent(percent: float) -> void:
	_sliders["_set_loss"].value = percent


func _process(_delta: float) -> void:
	var now := Time.get_ticks_msec()
	if connection == 0 or now - _last_sample_ms < SAMPLE_MS:
		return
	_last_sample_ms = now
	var status: Dictionary = SteamNetworkingSockets.getConnectionRealTimeStatus(connection, 2)
	if status["response"] != SteamNetworkingSockets.RESULT_OK:
		return
	var s: Dictionary = status["connection_status"]
	_graphs["ping"].push(s["ping"])
	_graphs["quality"].push(maxf(s["local_quality"], 0.0) * 100.0, maxf(s["remote_quality"], 0.0) * 100.0)
	_graphs["bytes"].push(s["bytes_in_per_second"], s["bytes_out_per_second"])
	_graphs["packets"].push(s["packets_in_per_second"], s["packets_out_per_second"])
	_graphs["rate"].push(s["send_rate"])
	_graphs["queued"].push(s["pending_reliable"], s["pending_unreliable"])
	var lanes: Array = status["lanes_status"]
	if lanes.size() == 2:
		_graphs["queue_time"].push(lanes[0]["queue_time"], lanes[1]["queue_time"])
	if visible and now - _last_detail_ms > 1000:
		_last_detail_ms = now
		_detail.text = SteamNetworkingSockets.getDetailedConnectionStatus(connection)["status"]
