## Waiting in scripted checks without sleeping blindly: poll a condition every frame, with a
## deadline.


## Wait until `condition` holds, checking every frame for up to `seconds`; whether it held.
static func until(tree: SceneTree, condition: Callable, seconds: float) -> bool:
	var deadline := Time.get_ticks_msec() + seconds * 1000
	while not condition.call():
		if Time.get_ticks_msec() > deadline:
			return false
		await tree.process_frame
	return true
