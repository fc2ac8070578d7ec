use godot::prelude::*; struct L; #[gdextension] unsafe impl ExtensionLibrary for L {}
