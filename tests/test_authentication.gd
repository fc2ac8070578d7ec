## Authentication status. Its one status change is posted once per process, so this suite's name
## sorts first: it must be the first code to call initAuthentication().
extends "res://tests/support/test_case.gd"


func test_init_authentication_reports_the_status_once() -> void:
	check_eq(S.getAuthenticationStatus(), S.NETWORKING_AVAILABILITY_CANNOT_TRY, "no certificate authority configured")
	var seen: Array = []
	var on_auth := func(available: int, message: String): seen.append([available, message])
	S.network_authentication_status.connect(on_auth)
	check_eq(S.initAuthentication(), S.NETWORKING_AVAILABILITY_CANNOT_TRY, "initAuthentication returns the status")
	check_eq(seen.size(), 0, "signal waits for the callback pump")
	await frames(2)
	check_eq(seen.size(), 1, "one status change, pumped by the frame loop")
	if seen.size() == 1:
		check_eq(seen[0][0], S.NETWORKING_AVAILABILITY_CANNOT_TRY, "availability")
		check(seen[0][1].length() > 0 and seen[0][1].length() <= 255, "a short explanation")
	S.initAuthentication()
	S.runNetworkingCallbacks()
	check_eq(seen.size(), 1, "no change, no second signal")
	S.network_authentication_status.disconnect(on_auth)
