## What the menu (or the command line) chose, for the scene that plays it. Command line, after
## `--`: --host[=PORT] (0: any free port) | --join=IP:PORT | --join-steam-id=ID, --bots=N, --name=TEXT, --check
## (play a short scripted game and exit 0 only if every check passed), --second-instance (the
## host also launches a second instance of this project joined to it), --rpc (the @rpc scene),
## --menu (show the menu even without a display), --screenshot=PATH (see arena.gd).

const DEFAULT_PORT := 27015

static var mode := ""          ## "host", "join", "join_steam_id", or "" for the menu
static var port := DEFAULT_PORT
static var address := ""
static var steam_id := 0
static var bots := 0
static var player_name := ""
static var check := false
static var second_instance := false
static var rpc := false
static var menu := false        ## --menu: show the menu even headless (a smoke test)
static var screenshot := ""     ## --screenshot=PATH: the arena opens its network panel, saves a picture and quits


## The command line's choices, unless the menu already made some (so that a scene run on its
## own, with F6 or a path on the command line, still reads its arguments).
static func from_command_line() -> void:
	if mode == "":
		parse(OS.get_cmdline_user_args())


static func parse(args: PackedStringArray) -> void:
	for arg in args:
		var key := arg.get_slice("=", 0)
		var value := arg.substr(key.length() + 1) if arg.contains("=") else ""
		match key:
			"--host":
				mode = "host"
				port = int(value) if value != "" else DEFAULT_PORT
			"--join":
				mode = "join"
				address = value
			"--join-steam-id":
				mode = "join_steam_id"
				steam_id = int(value)
			"--bots":
				bots = int(value)
			"--name":
				player_name = value
			"--check":
				check = true
			"--second-instance":
				second_instance = true
			"--rpc":
				rpc = true
			"--menu":
				menu = true
			"--screenshot":
				screenshot = value


## Start another Godot process of this project with `args` after `--`; its pid, or -1.
static func launch_instance(args: PackedStringArray) -> int:
	var cmd := PackedStringArray(["--path", ProjectSettings.globalize_path("res://")])
	if DisplayServer.get_name() == "headless":
		cmd.append("--headless")
	cmd.append("--")
	cmd.append_array(args)
	return OS.create_process(OS.get_executable_path(), cmd)
