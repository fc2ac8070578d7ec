## The editor's Run button starts the game with the editor's own executable
## (OS.get_executable_path()). With the Godot that scripts/get-godot.sh provides that must be a
## program that starts by itself, not one that only runs through a dynamic loader (through
## `ld-linux.so godot`, the executable path would be the loader). Start it here the same way and
## require exit 0 and the version line.
extends SceneTree


func _initialize() -> void:
	var output := []
	var path := OS.get_executable_path()
	var code := OS.execute(path, ["--headless", "--version"], output, true)
	var text := "".join(output)
	var ok := code == 0 and text.contains(Engine.get_version_info()["string"].get_slice(".", 0))
	print("run_button: %s started with exit %d: %s" % [path, code, text.strip_edges()])
	print("run_button: quitting")
	quit(0 if ok else 1)
