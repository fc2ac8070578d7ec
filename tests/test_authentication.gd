## Authentication in one process, the way a game uses it: initAuthentication() against this
## machine's CA (the first process that needs it hosts it, here this one), the identity it
## yields in connections, the offline certificate calls, and bad input. Its name sorts first so
## that it is the first code to call initAuthentication().
extends "res://tests/support/test_case.gd"

const CURRENT := 100


func test_init_authentication_reaches_current_with_an_identity() -> void:
	var status: int = S.getAuthenticationStatus()
	# A fresh user data folder (scripts/godot-tests.sh) has never tried; a rerun by hand may
	# reuse the certificate saved last time.
	check(status == S.NETWORKING_AVAILABILITY_NEVER_TRIED or status == CURRENT, "status before init (%d)" % status)
	var seen: Array = []
	var on_auth := func(available: int, message: String): seen.append([available, message])
	S.network_authentication_status.connect(on_auth)
	var first: int = S.initAuthentication()
	check(first == S.NETWORKING_AVAILABILITY_ATTEMPTING or first == CURRENT, "initAuthentication returns the status (%d)" % first)
	check_eq(S.initAuthentication(), S.getAuthenticationStatus(), "a second call only reports")
	check(await until(func(): return S.getAuthenticationStatus() == CURRENT), "authenticated within 10 s: %s" % [seen])
	# The signal is emitted when callbacks are next dispatched, which may come after this
	# coroutine resumes in a frame: wait for it rather than for one frame.
	check(await until(func(): return seen.size() >= 1 and seen[-1][0] == CURRENT), "the signal reported CURRENT: %s" % [seen])
	S.network_authentication_status.disconnect(on_auth)
	if seen.size() >= 1:
		check(seen[-1][1].contains(S.getIdentity()), "its message names the identity: %s" % seen[-1][1])
	var identity: String = S.getIdentity()
	check(identity.begins_with("steamid:"), "getIdentity in GNS's text form: '%s'" % identity)
	var id := int(identity.trim_prefix("steamid:"))
	check(id >= 76561197960265728 and id < 76561197960265728 + (1 << 32), "an individual-account Steam ID (%d)" % id)

	# Over UDP to ourselves, both ends now prove that identity.
	var listen := track_listen_socket(S.createListenSocketIP("127.0.0.1:0", {}))
	var client := track_connection(S.connectByIPAddress(S.getListenSocketAddress(listen), {}))
	var accepted := await accept_and_connect(listen, client, "over UDP")
	check_eq(S.getConnectionInfo(client).get("identity"), id, "the server's verified identity")
	check_eq(S.getConnectionInfo(accepted).get("identity"), id, "the client's verified identity")
	S.sendMessageToConnection(client, "hi".to_utf8_buffer(), S.NETWORKING_SEND_RELIABLE)
	var got := []
	check(await until(func():
		got.append_array(S.receiveMessagesOnConnection(accepted, 4))
		return got.size() > 0), "message arrives")
	if got.size() > 0:
		check_eq(got[0]["identity"], id, "the message carries the sender's identity")


func test_certificate_calls_and_bad_input() -> void:
	var request: Dictionary = S.getCertificateRequest()
	check_keys(request, ["certificate", "error_message"], "getCertificateRequest")
	check_eq(request.get("certificate", PackedByteArray()).size(), 40, "a request blob for steamnet-relay ca sign")
	for bad in [PackedByteArray(), PackedByteArray([1, 2, 3]), request.get("certificate", PackedByteArray())]:
		var result: Dictionary = S.setCertificate(bad)
		check_keys(result, ["response", "error"], "setCertificate")
		check_eq(result.get("response"), false, "setCertificate refuses %d bytes that are no certificate" % bad.size())
		check(result.get("error", "") != "", "and says why")
	check_eq(S.getAuthenticationStatus(), CURRENT, "a refused certificate leaves the good one in place")
