## Headless test runner: runs every `test_*` method of every `tests/test_*.gd` suite against the
## real extension and closes with `N passed, N failed`. Exit code 1 on any failure.
##   godot --headless --path . -s res://tests/run.gd [-- --only=NAME_FRAGMENT]
extends SceneTree

const TestCase = preload("res://tests/support/test_case.gd")

## A test that hangs (a signal that never comes) must not hang CI: the watchdog fails the run.
const WATCHDOG_SECONDS := 120.0
const SUITE_DIR := "res://tests"

var passed := 0
var failed := 0
var failed_names: Array[String] = []


func _initialize() -> void:
	create_timer(WATCHDOG_SECONDS).timeout.connect(_on_watchdog)
	_run_all.call_deferred()


func _on_watchdog() -> void:
	print("WATCHDOG: tests did not finish within %d s" % WATCHDOG_SECONDS)
	print("%d passed, %d failed" % [passed, failed + 1])
	quit(1)


func _only_filter() -> String:
	for arg in OS.get_cmdline_user_args():
		if arg.begins_with("--only="):
			return arg.trim_prefix("--only=")
	return ""


func _suite_paths() -> Array[String]:
	var paths: Array[String] = []
	for file in DirAccess.get_files_at(SUITE_DIR):
		if file.begins_with("test_") and file.ends_with(".gd"):
			paths.append(SUITE_DIR.path_join(file))
	paths.sort()
	return paths


func _run_all() -> void:
	var only := _only_filter()
	for path in _suite_paths():
		var script: GDScript = load(path)
		if script == null or not script.can_instantiate():
			_record(path, ["could not load suite (parse error?)"])
			continue
		var test_count := 0
		for method in script.get_script_method_list():
			var name: String = method["name"]
			if not name.begins_with("test_"):
				continue
			test_count += 1
			var full := "%s::%s" % [path.get_file().get_basename(), name]
			if only != "" and not full.contains(only):
				continue
			var suite: TestCase = script.new()
			suite.tree = self
			await suite.call(name)
			await suite.cleanup()
			var problems: Array = suite.failures.duplicate()
			if suite.checks == 0 and problems.is_empty():
				problems.append("made no assertions (did it stop early on a script error?)")
			_record(full, problems)
		if test_count == 0:
			_record(path, ["suite has no test_ methods"])
	print("")
	if failed > 0:
		print("FAILED: " + ", ".join(failed_names))
	print("%d passed, %d failed" % [passed, failed])
	quit(1 if failed > 0 else 0)


func _record(name: String, problems: Array) -> void:
	if problems.is_empty():
		passed += 1
		print("PASS  " + name)
	else:
		failed += 1
		failed_names.append(name)
		print("FAIL  " + name)
		for p in problems:
			print("        " + str(p))
