## One player's avatar: a coloured disc with a name. A remote avatar is drawn where its owner was
## INTERPOLATION_DELAY ago, between the two position updates around that moment, so it moves
## smoothly although updates arrive unreliably, 20 times a second, with jitter and losses.
extends Node2D

const INTERPOLATION_DELAY_MS := 100.0
const RADIUS := 14.0

var player_id := 0
var display_name := ""
var color := Color.WHITE
var local := false
## (local arrival time in ms, position), oldest first.
var _samples: Array = []


func add_sample(at_ms: float, pos: Vector2) -> void:
	_samples.append([at_ms, pos])
	if _samples.size() > 40:
		_samples.pop_front()


## Where a remote avatar is shown at local time `now_ms`.
func interpolated(now_ms: float) -> Vector2:
	if _samples.is_empty():
		return position
	var t := now_ms - INTERPOLATION_DELAY_MS
	for i in range(_samples.size() - 1, 0, -1):
		var a: Array = _samples[i - 1]
		var b: Array = _samples[i]
		if a[0] <= t and t <= b[0]:
			var span: float = maxf(b[0] - a[0], 0.001)
			return (a[1] as Vector2).lerp(b[1], (t - a[0]) / span)
	# Before the first sample or after the last: hold the nearest one.
	return _samples[0][1] if t < _samples[0][0] else _samples[-1][1]


func _process(_delta: float) -> void:
	if not local:
		position = interpolated(Time.get_ticks_msec())
	queue_redraw()


func _draw() -> void:
	draw_circle(Vector2.ZERO, RADIUS, color)
	draw_arc(Vector2.ZERO, RADIUS, 0, TAU, 32, Color.WHITE if local else Color(1, 1, 1, 0.4), 2.0)
	draw_string(ThemeDB.fallback_font, Vector2(-40, -RADIUS - 6), display_name, HORIZONTAL_ALIGNMENT_CENTER, 80, 13)
