## The arena's messages, and the two lanes they travel on.
##
## Lane 0 (events, reliable, priority 0): hello, welcome, join, leave, chat, final, report.
## Lane 1 (positions, unreliable, priority 1): a player's own position, 20 times a second, and
## the host's snapshot of everyone's. A lost position is simply replaced by the next one, and a
## burst of positions never delays a chat line: lanes are queued separately and lane 0 goes first.
## Each message is an Array encoded with var_to_bytes (no objects), the first item its kind.

const LANE_EVENTS := 0
const LANE_POSITIONS := 1
const LANE_PRIORITIES := [0, 1]
const LANE_WEIGHTS := [1, 1]
const SEND_INTERVAL_MS := 50
const ARENA := Rect2(0, 0, 960, 540)


## Send `message` to `connection` on `lane`: reliably on the events lane, unreliably (and
## without waiting for Nagle) on the positions lane. sendMessages takes a Dictionary per message
## (a steamnet extension) so that the lane can be chosen; the result is the message number or
## a negative RESULT_* value.
static func send(connection: int, lane: int, message: Array) -> int:
	var flags: int = SteamNetworkingSockets.NETWORKING_SEND_RELIABLE if lane == LANE_EVENTS \
		else SteamNetworkingSockets.NETWORKING_SEND_UNRELIABLE_NO_NAGLE
	var item := {"payload": var_to_bytes(message), "lane": lane}
	return SteamNetworkingSockets.sendMessages([item], connection, flags)[0]


## The Array a received message carries, or [] if it is not one of ours.
static func decode(message: Dictionary) -> Array:
	var value: Variant = bytes_to_var(message["payload"])
	return value if value is Array and not value.is_empty() else []
