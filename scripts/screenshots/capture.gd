## scripts/screenshots.sh loads this plugin into a scratch copy of the demo project, in a real
## editor window under Xvfb: it shows SteamNetworkingSockets' class reference, then runs the demo
## and shows steamnet's monitors in Debugger > Monitors, saves a PNG of each into
## $STEAMNET_SCREENSHOTS_DIR, and quits. STEAMNET_SCREENSHOTS_EXPLORE=1 prints the editor's node
## tree around the debugger instead (for adapting to another Godot version).
@tool
extends EditorPlugin


func _enter_tree() -> void:
	_run.call_deferred()


func _wait(seconds: float) -> void:
	await get_tree().create_timer(seconds).timeout


func _capture(path: String) -> void:
	var image := EditorInterface.get_base_control().get_viewport().get_texture().get_image()
	var error := image.save_png(path)
	print("screenshots: saved %s (%dx%d, error %d)" % [path, image.get_width(), image.get_height(), error])


func _first(root: Node, type: String) -> Node:
	var found := root.find_children("*", type, true, false)
	return found[0] if found.size() > 0 else null


func _explore(node: Node, depth: int, max_depth: int) -> void:
	if depth > max_depth:
		return
	var text := ""
	if node is Button or node is Label:
		text = " '%s'" % node.text
	print("  ".repeat(depth), node.name, " <", node.get_class(), ">", text)
	for child in node.get_children():
		_explore(child, depth + 1, max_depth)


func _run() -> void:
	var out := OS.get_environment("STEAMNET_SCREENSHOTS_DIR")
	await _wait(2.0)
	while EditorInterface.get_resource_filesystem().is_scanning():
		await _wait(0.5)
	var base := EditorInterface.get_base_control()
	if OS.get_environment("STEAMNET_SCREENSHOTS_EXPLORE") == "1":
		var debugger := _first(base, "EditorDebuggerNode")
		var node: Node = debugger
		while node != null and node != base:
			print("parent: ", node.name, " <", node.get_class(), ">")
			node = node.get_parent()
		_explore(debugger.get_parent(), 0, 3)
		get_tree().quit()
		return
	EditorInterface.set_main_screen_editor("Script")
	EditorInterface.get_script_editor().goto_help("class_name:SteamNetworkingSockets")
	await _wait(2.0)
	_capture(out.path_join("class_reference.png"))

	# Run the demo from the editor (its Run button), then Debugger > Monitors with steamnet's.
	EditorInterface.set_main_screen_editor("2D")
	EditorInterface.play_main_scene()
	await _wait(5.0)
	var debugger := _first(base, "EditorDebuggerNode")
	var bottom := debugger.get_parent()
	if bottom is TabContainer:
		bottom.current_tab = debugger.get_index()
	var profiler := _first(debugger, "EditorPerformanceProfiler")
	var tabs := profiler.get_parent()
	if tabs is TabContainer:
		tabs.current_tab = profiler.get_index()
	var tree: Tree = _first(profiler, "Tree")
	# The game's custom monitors appear once it has sent its first figures.
	var shown := 0
	for attempt in 60:
		var item := tree.get_root()
		while item != null:
			var name := item.get_text(0)
			if item.get_parent() != null and item.get_parent().get_text(0).to_lower() == "steamnet" \
					and (name.to_lower().begins_with("ping") or name.to_lower() in ["connected", "bytes in per second", "bytes out per second"]):
				item.set_checked(0, true)
				shown += 1
			item = item.get_next_in_tree()
		if shown > 0:
			break
		await _wait(0.5)
	print("screenshots: %d steamnet monitors shown" % shown)
	# Drag the bottom panel taller so the graphs have room.
	var split := bottom.get_parent()
	if split is SplitContainer:
		split.split_offset = -420
	await _wait(8.0)
	_capture(out.path_join("monitors.png"))
	EditorInterface.stop_playing_scene()
	await _wait(1.0)
	print("screenshots: done")
	get_tree().quit()
