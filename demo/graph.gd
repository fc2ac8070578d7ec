## A small live line graph: one or two series over the last HISTORY samples, scaled to their
## largest value, with the latest values in the title.
extends Control

const HISTORY := 120

var title := ""
var unit := ""
var series: Array[PackedFloat32Array] = [PackedFloat32Array(), PackedFloat32Array()]
var colors := [Color("#4fa3e0"), Color("#e0b44f")]


func _init(graph_title: String, graph_unit: String) -> void:
	title = graph_title
	unit = graph_unit
	custom_minimum_size = Vector2(220, 64)


func push(a: float, b := NAN) -> void:
	for i in 2:
		var value := a if i == 0 else b
		if is_nan(value):
			continue
		series[i].append(value)
		if series[i].size() > HISTORY:
			series[i] = series[i].slice(series[i].size() - HISTORY)
	queue_redraw()


func _draw() -> void:
	draw_rect(Rect2(Vector2.ZERO, size), Color(0, 0, 0, 0.45))
	var top := 1.0
	for s in series:
		for v in s:
			top = maxf(top, v)
	var latest := []
	for i in 2:
		var s := series[i]
		if s.size() >= 2:
			var points := PackedVector2Array()
			for j in s.size():
				var x := size.x * j / float(HISTORY - 1)
				points.append(Vector2(x, size.y - 4 - (size.y - 20) * s[j] / top))
			draw_polyline(points, colors[i], 1.5)
		if s.size() > 0:
			latest.append("%.0f" % s[-1])
	draw_string(ThemeDB.fallback_font, Vector2(4, 13), "%s  %s %s" % [title, " / ".join(latest), unit], HORIZONTAL_ALIGNMENT_LEFT, -1, 12)
